"""Quote rules through the services: line validation and rounding, validity, the states a quote
moves through (draft, sent, viewed, accepted, withdrawn) and what each state refuses, and the
deal moving by itself on a first view (forward only)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm.models import Touchpoint
from tandem.sales import quotes, services
from tandem.sales.models import Deal, Quote, QuoteQuestion, QuoteStatus

START = dt.datetime(2025, 5, 5, 9, tzinfo=dt.UTC)


@pytest.fixture
def rep(world):  # type: ignore[no-untyped-def]
    return Actor(user=world.user("sales_rep"))


@pytest.fixture
def deal(world, sales, rep) -> Deal:
    return services.deal_create(
        actor=rep,
        name="Irrigation",
        owner_id=rep.user.pk,
        amount="0",
        contacts=[{"contact_id": world.contacts[("sales_rep", "north")].pk, "role": "champion"}],
    )


def _quote(rep, deal, lines=None, **extra):  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False):
        return quotes.quote_create(
            actor=rep,
            deal=deal,
            lines=lines or [{"description": "Pump", "quantity": "1", "unit_price": "10"}],
            **extra,
        )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"quantity": "1", "unit_price": "5"}, "each line needs a product or a description"),
        ({"description": "Pipe", "quantity": "0", "unit_price": "5"}, "more than zero"),
        ({"description": "Pipe", "quantity": "1"}, "a line without a product needs a price"),
        ({"product_id": "999999", "quantity": "1"}, "no such product"),
        ({"product_id": "abc", "quantity": "1"}, "no such product"),
        ({"description": "Pipe", "unit_price": "-1"}, ""),
        ({"description": "Pipe", "unit_price": "5", "discount_percent": "101"}, ""),
        ({"description": "Pipe", "unit_price": "5", "tax_percent": "-5"}, ""),
    ],
)
def test_a_bad_line_is_refused_and_nothing_is_stored(rep, deal, line, message):
    with pytest.raises(InvalidInput) as refused:
        _quote(rep, deal, [line])
    assert "lines" in refused.value.errors
    assert message in " ".join(str(m) for m in refused.value.errors["lines"])
    assert not Quote.objects.exists()


def test_no_lines_or_too_many_lines_are_refused(rep, deal):
    with pytest.raises(InvalidInput):
        quotes.quote_create(actor=rep, deal=deal, lines=[])
    many = [{"description": f"Item {n}", "unit_price": "1"} for n in range(quotes.MAX_LINES + 1)]
    with pytest.raises(InvalidInput):
        quotes.quote_create(actor=rep, deal=deal, lines=many)
    assert not Quote.objects.exists()


@pytest.mark.parametrize("days", [0, 366, True, "30", 1.5])
def test_validity_is_a_whole_number_of_days_from_1_to_365(rep, deal, days):
    with pytest.raises(InvalidInput) as refused:
        _quote(rep, deal, valid_days=days)
    assert list(refused.value.errors) == ["valid_days"]


def test_cents_round_half_up_per_line_and_the_totals_are_sums(rep, deal):
    quote = _quote(
        rep,
        deal,
        [
            # 0.5 x 2.01 = 1.005 -> 1.01; tax 10 % of 1.01 = 0.101 -> 0.10
            {"description": "Washer", "quantity": "0.5", "unit_price": "2.01", "tax_percent": "10"},
            # 1 x 19.99 less 12.5 % = 17.49125 -> 17.49; tax 20 % = 3.498 -> 3.50
            {
                "description": "Valve",
                "unit_price": "19.99",
                "discount_percent": "12.5",
                "tax_percent": "20",
            },
        ],
    )
    assert list(quote.lines.order_by("id").values_list("net", "tax")) == [
        (Decimal("1.01"), Decimal("0.10")),
        (Decimal("17.49"), Decimal("3.50")),
    ]
    assert (quote.subtotal, quote.tax_total, quote.total) == (
        Decimal("18.50"),
        Decimal("3.60"),
        Decimal("22.10"),
    )
    assert quote.currency == deal.currency
    assert quote.expires_at == START + dt.timedelta(days=30)
    created = AuditEntry.objects.filter(action="create", model="sales.Quote")
    assert list(created.values_list("object_id", flat=True)) == [str(quote.pk)]


def test_a_product_line_takes_its_price_from_the_deals_currency(rep, world, sales):
    rub_deal = services.deal_create(
        actor=rep, name="Rouble deal", owner_id=rep.user.pk, currency_code="RUB", amount="0"
    )
    quote = _quote(rep, rub_deal, [{"product_id": sales.widget.pk, "quantity": "2"}])
    line = quote.lines.get()
    assert (line.description, line.unit_price, line.net) == (
        "Widget",
        Decimal("9000.00"),
        Decimal("18000.00"),
    )
    assert quote.currency == "RUB"
    with pytest.raises(InvalidInput):
        _quote(rep, rub_deal, [{"product_id": sales.gadget.pk, "quantity": "1"}])


def test_sending_is_for_drafts_and_sending_again_gives_the_same_link(rep, deal):
    quote = _quote(rep, deal)
    token = quotes.quote_send(actor=rep, quote=quote)
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.SENT
    assert quotes.quote_send(actor=rep, quote=Quote.objects.get(pk=quote.pk)) == token
    quotes.quote_withdraw(actor=rep, quote=quote)
    with pytest.raises(InvalidInput):
        quotes.quote_send(actor=rep, quote=Quote.objects.get(pk=quote.pk))


def test_a_first_view_moves_the_deal_forward_only_and_once(rep, sales, deal):
    sales.pipeline.quote_viewed_stage = sales.stages["Propose"]
    sales.pipeline.save(update_fields=["quote_viewed_stage"])
    services.deal_move(actor=rep, deal=deal, stage_id=sales.stages["Negotiate"].pk)
    quote = _quote(rep, deal)
    assert quotes.quote_viewed(quote=quote, ip="198.51.100.1") is False  # a draft is not viewed
    quotes.quote_send(actor=rep, quote=quote)
    assert quotes.quote_viewed(quote=quote, ip="198.51.100.1") is True
    assert quotes.quote_viewed(quote=quote, ip="198.51.100.2") is False
    assert Deal.objects.get(pk=deal.pk).stage == sales.stages["Negotiate"]  # never backwards
    assert Touchpoint.objects.filter(kind="quote_viewed").count() == 1


def test_accepting_twice_or_after_expiry_is_refused_with_a_code(rep, deal):
    quote = _quote(rep, deal, valid_days=7)
    quotes.quote_send(actor=rep, quote=quote)
    with (
        time_machine.travel(START + dt.timedelta(days=8), tick=False),
        pytest.raises(InvalidInput) as expired,
    ):
        quotes.quote_accept(quote=quote, name="Olga", ip=None)
    assert expired.value.code == "expired"
    second = _quote(rep, deal, valid_days=7)
    quotes.quote_send(actor=rep, quote=second)
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        quotes.quote_accept(quote=second, name="Olga", ip="203.0.113.5")
        with pytest.raises(InvalidInput) as again:
            quotes.quote_accept(quote=second, name="Olga", ip=None)
    assert again.value.code == "accepted"
    accepted = Quote.objects.get(pk=second.pk)
    assert (accepted.status, accepted.accepted_name) == (QuoteStatus.ACCEPTED, "Olga")
    assert Deal.objects.get(pk=deal.pk).status == "won"
    with pytest.raises(InvalidInput):
        quotes.quote_withdraw(actor=rep, quote=accepted)


def test_a_withdrawn_quote_cannot_be_accepted(rep, deal):
    quote = _quote(rep, deal)
    quotes.quote_send(actor=rep, quote=quote)
    quotes.quote_withdraw(actor=rep, quote=quote)
    with pytest.raises(InvalidInput):
        quotes.quote_accept(quote=Quote.objects.get(pk=quote.pk), name="Olga", ip=None)
    assert Deal.objects.get(pk=deal.pk).status == "open"


def test_a_question_needs_a_name_and_text_within_limits(rep, deal):
    quote = _quote(rep, deal)
    quotes.quote_send(actor=rep, quote=quote)
    with pytest.raises(InvalidInput):
        quotes.quote_ask(quote=quote, name="", text="Delivery time?", ip=None)
    with pytest.raises(InvalidInput):
        quotes.quote_ask(quote=quote, name="Olga", text="x" * 5001, ip=None)
    assert not QuoteQuestion.objects.exists()
    asked = quotes.quote_ask(quote=quote, name=" Olga ", text="Delivery time?", ip="192.0.2.1")
    assert (asked.name, asked.text, asked.ip) == ("Olga", "Delivery time?", "192.0.2.1")
    assert Touchpoint.objects.filter(kind="quote_question").count() == 1


def test_lines_from_the_deal_carry_price_list_price_discount_and_one_tax_rate(rep, sales, deal):
    services.deal_lines_set(
        actor=rep,
        deal=deal,
        lines=[{"product_id": sales.gadget.pk, "quantity": "4", "discount_percent": "25"}],
    )
    assert quotes.lines_from_deal(deal, Decimal("7")) == [
        {
            "product_id": sales.gadget.pk,
            "price_list_id": sales.eur.pk,
            "quantity": Decimal("4.00"),
            "unit_price": Decimal("250.50"),
            "discount_percent": Decimal("25.00"),
            "tax_percent": Decimal("7"),
        }
    ]
