"""Quotes: lines with discount and tax, a PDF, and a signed public link where the buyer reads,
accepts or asks a question.

Invariants:
- line net = quantity x unit price less the discount; line tax = net x tax rate; both rounded to
  cents half-up; the quote's subtotal, tax and total are the sums of its lines;
- the public link is `django.core.signing` over (quote id, the quote's random nonce), salted for
  quotes: it cannot be guessed or derived from the id, and `quote_withdraw` changes the nonce so
  earlier links stop working;
- an expired, withdrawn or already accepted quote cannot be accepted: acceptance is one
  conditional UPDATE on (status in sent/viewed, expires_at > now), so two clicks accept once;
- the first view and the acceptance are touchpoints (department "self_service") and move the
  deal by themselves: a first view to the pipeline's "quote viewed" stage (forward only), an
  acceptance to won.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from fpdf.fonts import FontFace

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, Organisation
from tandem.crm import services as crm
from tandem.sales import catalogue, pdf, services
from tandem.sales.models import (
    Deal,
    DealStatus,
    Product,
    Quote,
    QuoteLine,
    QuoteQuestion,
    QuoteStatus,
    StageKind,
    new_nonce,
)

SALT = "tandem.sales.quote"
CENT = Decimal("0.01")
MAX_LINES = 200


def public_token(quote: Quote) -> str:
    return signing.dumps({"q": quote.pk, "n": quote.public_nonce}, salt=SALT, compress=True)


def quote_from_token(token: str) -> Quote | None:
    """The quote a public link names, or None for a forged, altered or withdrawn link."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("q"), int):
        return None
    quote = Quote.objects.select_related("deal").filter(pk=data["q"]).first()
    if quote is None or quote.public_nonce != data.get("n"):
        return None
    return quote


def _clean_lines(rows: Iterable[dict[str, Any]], deal: Deal, on: dt.date) -> list[QuoteLine]:
    """Quote lines in the deal's currency; a product line is priced from a price list offered
    on day `on` (see `catalogue.line_price`), a line without a product needs its own price."""
    lines: list[QuoteLine] = []
    for row in rows:
        product = None
        if row.get("product_id") not in (None, ""):
            try:
                product = Product.objects.get(pk=int(row["product_id"]), active=True)
            except (TypeError, ValueError, Product.DoesNotExist):
                raise InvalidInput({"lines": [_("no such product")]}) from None
        description = services.text(
            "lines", row.get("description") or (product.name if product else ""), 300
        )
        if not description:
            raise InvalidInput({"lines": [_("each line needs a product or a description")]})
        quantity = services.money("lines", row.get("quantity") or "1")
        if quantity <= 0:
            raise InvalidInput({"lines": [_("a quantity must be more than zero")]})
        price_list = None
        if product is not None:
            unit_price, tax_rate, price_list = catalogue.line_price(
                product,
                currency_code=deal.currency,
                on=on,
                price_list_id=row.get("price_list_id"),
                default_list=deal.price_list,
                unit_price=row.get("unit_price"),
                tax_percent=row.get("tax_percent"),
            )
        elif row.get("unit_price") not in (None, ""):
            unit_price = services.money("lines", row["unit_price"])
            tax_rate = services.percent("lines", row.get("tax_percent"))
        else:
            raise InvalidInput({"lines": [_("a line without a product needs a price")]})
        discount = services.percent("lines", row.get("discount_percent"))
        net = services.line_total(quantity, unit_price, discount)
        tax = (net * tax_rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        lines.append(
            QuoteLine(
                product=product,
                price_list=price_list,
                description=description,
                quantity=quantity,
                unit_price=unit_price,
                discount_percent=discount,
                tax_percent=tax_rate,
                net=net,
                tax=tax,
            )
        )
    if not lines or len(lines) > MAX_LINES:
        raise InvalidInput({"lines": [_("a quote has 1 to %(n)d lines") % {"n": MAX_LINES}]})
    return lines


def lines_from_deal(deal: Deal, tax_percent: Decimal | None = None) -> list[dict[str, Any]]:
    """The deal's product lines as quote lines: their price list, price and discount, and their
    tax rate unless `tax_percent` replaces it."""
    return [
        {
            "product_id": line.product_id,
            "price_list_id": line.price_list_id,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount_percent": line.discount_percent,
            "tax_percent": line.tax_percent if tax_percent is None else tax_percent,
        }
        for line in deal.lines.all()
    ]


@transaction.atomic
def quote_create(
    *,
    actor: Actor,
    deal: Deal,
    lines: Iterable[dict[str, Any]],
    valid_days: int = 30,
    notes: str = "",
    at: dt.datetime | None = None,
) -> Quote:
    """A draft quote for the deal, in the deal's currency, valid for `valid_days` from now
    (or from `at`, when it was made)."""
    if (
        isinstance(valid_days, bool)
        or not isinstance(valid_days, int)
        or not (1 <= valid_days <= 365)
    ):
        raise InvalidInput({"valid_days": [_("from 1 to 365 days")]})
    notes = services.text("notes", notes, 5000)
    now = at or timezone.now()
    quote_lines = _clean_lines(lines, deal, catalogue.business_date(now))
    quote = Quote.objects.create(
        deal=deal,
        number=f"tmp-{secrets.token_hex(8)}",
        currency=deal.currency,
        notes=notes,
        expires_at=now + dt.timedelta(days=valid_days),
        created_by=actor.user,
        created_at=now,
        subtotal=sum((ln.net for ln in quote_lines), Decimal("0")),
        tax_total=sum((ln.tax for ln in quote_lines), Decimal("0")),
    )
    quote.total = quote.subtotal + quote.tax_total
    quote.number = f"Q-{now:%Y}-{quote.pk:05d}"
    quote.save(update_fields=["number", "total"])
    for line in quote_lines:
        line.quote = quote
    QuoteLine.objects.bulk_create(quote_lines)
    record_change(
        actor=actor,
        action="create",
        instance=quote,
        changes=diff(
            {},
            snapshot(
                quote,
                ["number", "deal", "currency", "subtotal", "tax_total", "total", "expires_at"],
            ),
        ),
    )
    return quote


@transaction.atomic
def quote_send(*, actor: Actor, quote: Quote) -> str:
    """Mark a draft as sent; returns the public token for the buyer's link."""
    if Quote.objects.filter(pk=quote.pk, status=QuoteStatus.DRAFT).update(status=QuoteStatus.SENT):
        record_change(
            actor=actor, action="update", instance=quote, changes={"status": ["draft", "sent"]}
        )
        quote.status = QuoteStatus.SENT
    elif quote.status not in (QuoteStatus.SENT, QuoteStatus.VIEWED):
        raise InvalidInput({"status": [_("only a draft can be sent")]})
    return public_token(quote)


@transaction.atomic
def quote_withdraw(*, actor: Actor, quote: Quote) -> None:
    """Withdraw a quote that was not accepted: its public link stops working."""
    if (
        not Quote.objects.filter(pk=quote.pk)
        .exclude(status=QuoteStatus.ACCEPTED)
        .update(status=QuoteStatus.WITHDRAWN, public_nonce=new_nonce())
    ):
        raise InvalidInput({"status": [_("an accepted quote cannot be withdrawn")]})
    record_change(
        actor=actor,
        action="update",
        instance=quote,
        changes={"status": [quote.status, "withdrawn"]},
    )


def _buyer_contact(quote: Quote) -> Any:
    first = quote.deal.deal_contacts.select_related("contact__account").order_by("id").first()
    return first.contact if first else None


def _buyer_touchpoint(
    quote: Quote, kind: str, properties: dict[str, Any], at: dt.datetime | None = None
) -> None:
    contact = _buyer_contact(quote)
    if contact is None and quote.deal.account_id is None:
        return
    crm.touchpoint_record(
        channel="self_service",
        kind=kind,
        department=Department.SELF_SERVICE,
        contact=contact,
        account=quote.deal.account if contact is None else None,
        content=quote.number,
        properties={"quote_id": quote.pk, "deal_id": quote.deal_id, **properties},
        source="tandem.sales",
        occurred_at=at,
    )


@transaction.atomic
def quote_viewed(*, quote: Quote, ip: str | None, at: dt.datetime | None = None) -> bool:
    """Record the buyer's first view (later views change nothing); True on the first.
    `at`: when (default now)."""
    now = at or timezone.now()
    first = Quote.objects.filter(
        pk=quote.pk, first_viewed_at__isnull=True, status=QuoteStatus.SENT
    ).update(first_viewed_at=now, status=QuoteStatus.VIEWED)
    if not first:
        return False
    quote.first_viewed_at, quote.status = now, QuoteStatus.VIEWED
    _buyer_touchpoint(quote, "quote_viewed", {"ip": ip}, at=now)
    deal = Deal.objects.select_related("pipeline__quote_viewed_stage", "stage").get(
        pk=quote.deal_id
    )
    target = deal.pipeline.quote_viewed_stage
    if (
        deal.status == DealStatus.OPEN
        and target is not None
        and target.kind == StageKind.OPEN
        and target.position > deal.stage.position
    ):
        services.deal_move(
            actor=Actor.system(),
            deal=deal,
            stage_id=target.pk,
            department=Department.SELF_SERVICE,
            reason=f"quote {quote.number} viewed",
            at=now,
        )
    return True


@transaction.atomic
def quote_accept(
    *, quote: Quote, name: str, ip: str | None, at: dt.datetime | None = None
) -> Quote:
    """The buyer accepts online: name, time and address are kept; the deal is won.
    `at`: when (default now)."""
    name = services.text("name", name, 200, required=True)
    now = at or timezone.now()
    accepted = Quote.objects.filter(
        pk=quote.pk, status__in=[QuoteStatus.SENT, QuoteStatus.VIEWED], expires_at__gt=now
    ).update(status=QuoteStatus.ACCEPTED, accepted_at=now, accepted_name=name, accepted_ip=ip)
    if not accepted:
        quote.refresh_from_db()
        if quote.status == QuoteStatus.ACCEPTED:
            raise InvalidInput(
                {"__all__": [_("This quote was already accepted.")]}, code="accepted"
            )
        raise InvalidInput(
            {"__all__": [_("This quote can no longer be accepted.")]}, code="expired"
        )
    quote.refresh_from_db()
    record_change(
        actor=Actor.system(),
        action="update",
        instance=quote,
        changes={
            "status": ["viewed", "accepted"],
            "accepted_name": [None, name],
            "accepted_ip": [None, ip],
            "accepted_at": [None, now.isoformat()],
        },
    )
    _buyer_touchpoint(
        quote, "quote_accepted", {"ip": ip, "name": name, "total": str(quote.total)}, at=now
    )
    deal = Deal.objects.get(pk=quote.deal_id)
    if deal.status == DealStatus.OPEN:
        if not deal.lines.exists() and deal.currency == quote.currency:
            services.deal_update(actor=Actor.system(), deal=deal, amount=quote.subtotal)
        services.deal_win(
            actor=Actor.system(),
            deal=deal,
            department=Department.SELF_SERVICE,
            reason=f"quote {quote.number} accepted online",
            at=now,
        )
    return quote


@transaction.atomic
def quote_ask(*, quote: Quote, name: str, text: str, ip: str | None) -> QuoteQuestion:
    """The buyer asks a question about the quote; the deal's owner is emailed after commit."""
    name = services.text("name", name, 200, required=True)
    text = services.text("text", text, 5000, required=True)
    question = QuoteQuestion.objects.create(quote=quote, name=name, text=text, ip=ip)
    _buyer_touchpoint(quote, "quote_question", {"ip": ip})
    owner = quote.deal.owner
    if owner is not None and owner.email:
        subject = _("Question about quote %(number)s") % {"number": quote.number}
        body = f"{name}:\n\n{text}"
        recipient = owner.email
        transaction.on_commit(
            lambda: send_mail(
                subject, body, settings.DEFAULT_FROM_EMAIL, [recipient], fail_silently=True
            )
        )
    return question


# --- the PDF --------------------------------------------------------------------------------


def _amount(value: Decimal, currency: str) -> str:
    return f"{formats.number_format(value, 2, use_l10n=True, force_grouping=True)} {currency}"


def quote_pdf(quote: Quote) -> bytes:
    """The quote as a PDF (in the active language): header, lines, totals, notes and, once
    accepted, who accepted it and when."""
    org = Organisation.current()
    doc = pdf.document(title=quote.number)
    doc.add_page()
    width = doc.epw
    doc.set_font_size(11)
    doc.cell(width / 2, 20, org.name)
    doc.set_font_size(16)
    doc.cell(
        width / 2, 20, _("Quote %(number)s") % {"number": quote.number}, align="R", new_x="LMARGIN"
    )
    doc.ln(22)
    doc.set_font_size(9)
    valid_until = formats.date_format(timezone.localtime(quote.expires_at), "DATE_FORMAT")
    doc.cell(width, 12, _("Valid until %(date)s") % {"date": valid_until}, align="R")
    doc.ln(16)
    doc.set_font_size(10)
    doc.multi_cell(width, 14, _("For: %(deal)s") % {"deal": quote.deal.name}, align="L")
    contact = _buyer_contact(quote)
    if contact is not None:
        doc.multi_cell(width, 14, str(contact), align="L")
    doc.ln(12)
    doc.set_font_size(9)
    plain = FontFace(emphasis=None)
    with doc.table(
        col_widths=(205, 50, 65, 50, 50, 75),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        borders_layout="HORIZONTAL_LINES",
        headings_style=plain,
        line_height=13,
        padding=2,
    ) as table:
        header = table.row()
        for label in (_("Description"), _("Qty"), _("Price"), _("Disc."), _("Tax"), _("Net")):
            header.cell(label)
        for line in quote.lines.all():
            row = table.row()
            row.cell(line.description)
            row.cell(formats.number_format(line.quantity, 2, use_l10n=True))
            row.cell(formats.number_format(line.unit_price, 2, use_l10n=True))
            row.cell(f"{formats.number_format(line.discount_percent, 2)} %")
            row.cell(f"{formats.number_format(line.tax_percent, 2)} %")
            row.cell(_amount(line.net, quote.currency))
    doc.ln(8)
    doc.set_font_size(10)
    for label, value in (
        (_("Subtotal"), quote.subtotal),
        (_("Tax"), quote.tax_total),
        (_("Total"), quote.total),
    ):
        doc.cell(width - 110, 15, label, align="R")
        doc.cell(110, 15, _amount(value, quote.currency), align="R", new_x="LMARGIN", new_y="NEXT")
    if quote.notes:
        doc.ln(10)
        doc.set_font_size(9)
        doc.multi_cell(width, 12, quote.notes, align="L")
    if quote.status == QuoteStatus.ACCEPTED and quote.accepted_at:
        doc.ln(10)
        doc.set_font_size(9)
        when = formats.date_format(timezone.localtime(quote.accepted_at), "DATETIME_FORMAT")
        doc.multi_cell(
            width,
            12,
            _("Accepted online by %(name)s on %(when)s")
            % {"name": quote.accepted_name, "when": when},
            align="L",
        )
    return bytes(doc.output())
