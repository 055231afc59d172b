"""Self-service: a buyer asks for a price and gets a quote, with no rep involved.

A price request finds the contact by email (or creates it through `crm.services`), creates a
self-service deal with no owner for the product, and a quote the buyer can read and accept at its
public link at once. A buyer who ticks "talk to sales" is also handed to the leads app's routing
(`lifecycle.request_handoff`).

Invariants: one transaction; the contact is never duplicated for a known email address; the
product must be active, offered for self-service and priced in the currency asked for in a price
list offered today (`catalogue.offered_products` is what the price-request page lists).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, Organisation
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.crm.validation import clean_email
from tandem.sales import catalogue, quotes, services
from tandem.sales.lifecycle import request_handoff
from tandem.sales.models import Deal, DealSource, Product, Quote

VALID_DAYS = 30


def _contact(email: str, first_name: str, last_name: str, company: str) -> Contact:
    system = Actor.system()
    existing = crm.contact_duplicates_of(email=email)
    if existing:
        return Contact.objects.get(pk=existing[0])
    account_id = None
    if company.strip():
        account_id = crm.account_create(actor=system, name=company.strip()[:200]).pk
    return crm.contact_create(
        actor=system, email=email, first_name=first_name, last_name=last_name, account_id=account_id
    )


@transaction.atomic
def price_request(
    *,
    email: str,
    product_id: int,
    quantity: Any = "1",
    first_name: str = "",
    last_name: str = "",
    company: str = "",
    currency: str | None = None,
    message: str = "",
    talk_to_sales: bool = False,
    ip: str | None = None,
) -> tuple[Deal, bool]:
    """Returns the new deal and whether a rep was asked to take it."""
    deal, _quote, handed = price_request_with_quote(
        email=email,
        product_id=product_id,
        quantity=quantity,
        first_name=first_name,
        last_name=last_name,
        company=company,
        currency=currency,
        message=message,
        talk_to_sales=talk_to_sales,
        ip=ip,
    )
    return deal, handed


@transaction.atomic
def price_request_with_quote(
    *,
    email: str,
    product_id: int,
    quantity: Any = "1",
    first_name: str = "",
    last_name: str = "",
    company: str = "",
    currency: str | None = None,
    message: str = "",
    talk_to_sales: bool = False,
    ip: str | None = None,
) -> tuple[Deal, Quote, bool]:
    try:
        address = clean_email(str(email))
    except ValueError:
        raise InvalidInput({"email": [_("is not a valid email address")]}) from None
    product = Product.objects.filter(pk=product_id, active=True, self_service=True).first()
    if product is None:
        raise InvalidInput({"product_id": [_("this product is not offered online")]})
    code = services.currency("currency", currency or Organisation.current().currency)
    amount = services.money("quantity", quantity)
    if amount <= 0 or amount > Decimal("100000"):
        raise InvalidInput({"quantity": [_("from 0.01 to 100000")]})
    message = services.text("message", message, 2000)
    # refuses a product with no price in the currency in a list offered today
    catalogue.list_price(product, code, None, on=catalogue.business_date(), field="product_id")
    contact = _contact(
        address,
        services.text("first_name", first_name, 100),
        services.text("last_name", last_name, 100),
        services.text("company", company, 200),
    )
    crm.touchpoint_record(
        channel="self_service",
        kind="price_requested",
        department=Department.SELF_SERVICE,
        contact=contact,
        content=product.name,
        source="tandem.sales",
        properties={
            "product_id": product.pk,
            "quantity": str(amount),
            "ip": ip,
            "message": message[:500],
        },
    )
    system = Actor.system()
    deal = services.deal_create(
        actor=system,
        name=f"{product.name} x {amount.normalize():f} — {company or address}"[:200],
        currency_code=code,
        contacts=[{"contact_id": contact.pk, "role": "decision_maker"}],
        lines=[{"product_id": product.pk, "quantity": amount}],
        source=DealSource.SELF_SERVICE,
    )
    quote = quotes.quote_create(
        actor=system,
        deal=deal,
        valid_days=VALID_DAYS,
        lines=quotes.lines_from_deal(deal),
        notes=message,
    )
    quotes.quote_send(actor=system, quote=quote)
    handed = False
    if talk_to_sales:
        handed = request_handoff(
            actor=system,
            contact=contact,
            deal_id=deal.pk,
            note=message or _("Asked to talk to sales on a price request"),
        )
    return deal, quote, handed
