"""Deal changes through the services: field updates with their audit, buying roles, products
that set the amount, reopening, sharing and deleting, money and currency input, and the forecast
at the edges of a period (time zone, currency, closed deals, an empty period)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from tandem.core.access import scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry, Organisation
from tandem.crm.models import Touchpoint
from tandem.sales import services
from tandem.sales.forecast import forecast, period_containing, period_shift
from tandem.sales.models import Deal, DealContact, DealStageVisit


@pytest.fixture
def rep(world):  # type: ignore[no-untyped-def]
    return Actor(user=world.user("sales_rep"))


@pytest.fixture
def deal(world, sales, rep) -> Deal:
    return services.deal_create(
        actor=rep,
        name="Grain dryers",
        owner_id=rep.user.pk,
        amount="5000",
        close_date=dt.date(2025, 3, 15),
        contacts=[{"contact_id": world.contacts[("sales_rep", "north")].pk, "role": "user"}],
    )


def _audits(deal: Deal) -> list[dict[str, object]]:
    return list(
        AuditEntry.objects.filter(model="sales.Deal", object_id=str(deal.pk), action="update")
        .order_by("id")
        .values_list("changes", flat=True)
    )


def test_an_update_changes_only_the_given_fields_and_audits_the_difference(rep, deal):
    services.deal_update(actor=rep, deal=deal, name="Grain dryers (2)", amount="5000")
    saved = Deal.objects.get(pk=deal.pk)
    assert (saved.name, saved.amount, saved.close_date) == (
        "Grain dryers (2)",
        Decimal("5000.00"),
        dt.date(2025, 3, 15),
    )
    assert _audits(deal) == [{"name": ["Grain dryers", "Grain dryers (2)"]}]
    services.deal_update(actor=rep, deal=deal, name="Grain dryers (2)")
    assert len(_audits(deal)) == 1  # nothing changed, nothing audited


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stage_id", 1),
        ("name", ""),
        ("amount", "-1"),
        ("amount", 1.5),
        ("amount", "lots"),
        ("currency", "EURO"),
        ("close_date", "2025-03-01"),
        ("owner_id", 999999),
        ("account_id", 999999),
        ("forecast_category", "maybe"),
    ],
)
def test_a_bad_update_is_refused_on_its_field_and_changes_nothing(rep, deal, field, value):
    with pytest.raises(InvalidInput) as refused:
        services.deal_update(actor=rep, deal=deal, **{field: value})
    assert list(refused.value.errors) == [field]
    assert Deal.objects.get(pk=deal.pk).name == "Grain dryers"
    assert _audits(deal) == []


def test_a_rep_cannot_point_a_deal_at_an_account_they_do_not_see(world, rep, deal):
    south_account = world.contacts[("sales_rep", "south")].account_id
    with pytest.raises(InvalidInput):
        services.deal_update(actor=rep, deal=deal, account_id=south_account)
    services.deal_update(actor=Actor.system(), deal=deal, account_id=south_account)
    assert Deal.objects.get(pk=deal.pk).account_id == south_account


def test_products_set_the_amount_and_then_the_amount_follows_them(rep, sales, deal):
    services.deal_lines_set(
        actor=rep,
        deal=deal,
        lines=[
            {"product_id": sales.widget.pk, "quantity": "3", "discount_percent": "10"},
            {"product_id": sales.gadget.pk, "quantity": "1"},
        ],
    )
    assert Deal.objects.get(pk=deal.pk).amount == Decimal("520.50")  # 270 + 250.50
    with pytest.raises(InvalidInput) as refused:
        services.deal_update(actor=rep, deal=deal, amount="1")
    assert list(refused.value.errors) == ["amount"]
    services.deal_lines_set(
        actor=rep, deal=deal, lines=[{"product_id": sales.widget.pk, "quantity": "1"}]
    )
    assert Deal.objects.get(pk=deal.pk).amount == Decimal("100.00")
    assert deal.lines.count() == 1


def test_buying_roles_are_set_changed_and_removed_with_an_audit_each(world, rep, deal):
    contact = world.contacts[("sales_rep", "north")]
    services.deal_contact_set(actor=rep, deal=deal, contact_id=contact.pk, role="economic_buyer")
    services.deal_contact_set(actor=rep, deal=deal, contact_id=contact.pk, role="economic_buyer")
    assert list(DealContact.objects.filter(deal=deal).values_list("role", flat=True)) == [
        "economic_buyer"
    ]
    with pytest.raises(InvalidInput):
        services.deal_contact_set(actor=rep, deal=deal, contact_id=contact.pk, role="boss")
    services.deal_contact_remove(actor=rep, deal=deal, contact_id=contact.pk)
    services.deal_contact_remove(actor=rep, deal=deal, contact_id=contact.pk)
    assert not DealContact.objects.filter(deal=deal).exists()
    assert len(_audits(deal)) == 2


def test_reopening_a_lost_deal_clears_the_reason_and_starts_a_visit(rep, sales, deal):
    services.deal_lose(actor=rep, deal=deal, loss_reason_id=sales.reason.pk, note="budget")
    reopened = services.deal_reopen(actor=rep, deal=deal, stage_id=sales.stages["Propose"].pk)
    assert (reopened.status, reopened.stage, reopened.loss_reason, reopened.loss_note) == (
        "open",
        sales.stages["Propose"],
        None,
        "",
    )
    assert reopened.closed_at is None
    visits = list(DealStageVisit.objects.filter(deal=deal).order_by("id"))
    assert [v.stage.name for v in visits] == ["Qualify", "Lost", "Propose"]
    assert all(v.left_at is not None for v in visits[:-1])
    assert Touchpoint.objects.filter(kind="deal_reopened").count() == 1
    assert services.deal_reopen(actor=rep, deal=reopened) == reopened  # open stays open
    with pytest.raises(InvalidInput):
        services.deal_lose(actor=rep, deal=reopened, loss_reason_id=None)


def test_a_lost_stage_by_move_needs_a_reason_and_the_won_stage_by_move_wins(rep, sales, deal):
    with pytest.raises(InvalidInput) as refused:
        services.deal_move(actor=rep, deal=deal, stage_id=sales.stages["Lost"].pk)
    assert list(refused.value.errors) == ["loss_reason_id"]
    won = services.deal_move(actor=rep, deal=deal, stage_id=sales.stages["Won"].pk)
    assert (won.status, won.stage) == ("won", sales.stages["Won"])


def test_sharing_shows_one_deal_to_another_rep(world, rep, deal):
    south = world.user("sales_rep", "south")
    assert not scoped(south, Deal).filter(pk=deal.pk).exists()
    with pytest.raises(InvalidInput):
        services.deal_share(actor=rep, deal=deal, user_id=999999)
    services.deal_share(actor=rep, deal=deal, user_id=south.pk)
    services.deal_share(actor=rep, deal=deal, user_id=south.pk)
    assert scoped(south, Deal).filter(pk=deal.pk).exists()
    assert _audits(deal) == [{"shared_with": [None, south.pk]}]


def test_deleting_removes_the_deal_and_its_history_and_is_audited(rep, deal):
    services.deal_delete(actor=Actor.system(), deal=deal)
    assert not Deal.objects.filter(pk=deal.pk).exists()
    assert not DealStageVisit.objects.filter(deal_id=deal.pk).exists()
    assert AuditEntry.objects.filter(model="sales.Deal", action="delete").count() == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10", "10.00"),
        ("1,5", "1.50"),
        (" 2.345 ", "2.35"),
        (Decimal("0.005"), "0.01"),
        (7, "7.00"),
    ],
)
def test_money_takes_decimals_and_comma_and_rounds_half_up(value, expected):
    assert services.money("amount", value) == Decimal(expected)


@pytest.mark.parametrize("value", [1.5, True, "", "NaN", "Infinity", "1e30", "-3"])
def test_money_refuses_floats_non_numbers_and_out_of_range(value):
    with pytest.raises(InvalidInput):
        services.money("amount", value)


def test_money_may_allow_negative_amounts():
    assert services.money("amount", "-3", allow_negative=True) == Decimal("-3.00")


def test_forecast_periods_wrap_the_year_and_shift_backwards():
    december = period_containing(dt.date(2025, 12, 15), "month", 1)
    assert period_shift(december, 1, 1).start == dt.date(2026, 1, 1)
    q1 = period_containing(dt.date(2025, 4, 30), "quarter", 4)
    previous = period_shift(q1, -1, 4)
    assert (previous.start, previous.end, previous.label) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 4, 1),
        "Q4 FY2024/25",
    )
    assert period_containing(dt.date(2025, 3, 31), "year", 1).label == "FY2025"
    october = period_containing(dt.date(2025, 10, 3), "month", 10)
    assert october.label == "2025-10 (FY2025/26)"


def test_a_win_counts_in_the_organisations_period_not_utcs(world, sales, rep):
    org = Organisation.current()
    org.time_zone = "Asia/Vladivostok"  # UTC+10
    org.save(update_fields=["time_zone"])
    deal = services.deal_create(actor=rep, name="Late win", owner_id=rep.user.pk, amount="750")
    # 31 March 20:00 UTC is already 1 April in Vladivostok
    with time_machine.travel(dt.datetime(2025, 3, 31, 20, tzinfo=dt.UTC), tick=False):
        services.deal_win(actor=rep, deal=deal)
    march = period_containing(dt.date(2025, 3, 1), "month", 1)
    april = period_containing(dt.date(2025, 4, 1), "month", 1)
    head = world.user("head")
    assert forecast(head, period=march)["totals"]["closed"] == Decimal("0.00")
    assert forecast(head, period=april)["totals"]["closed"] == Decimal("750.00")


def test_an_empty_period_has_no_rows_and_zero_totals(world, sales, deal):
    period = period_containing(dt.date(2030, 1, 1), "quarter", 1)
    result = forecast(world.user("head"), period=period, currency="eur")
    assert result["rows"] == []
    assert result["currency"] == "EUR"
    assert (result["totals"]["weighted"], result["totals"]["deals"]) == (Decimal("0.00"), 0)


def test_the_forecast_page_falls_back_on_bad_parameters(client, world, sales, deal):
    client.force_login(world.user("head"))
    page = client.get("/sales/forecast/?period=decade&date=yesterday&group_by=x&currency=EURO")
    assert page.status_code == 200
    teams = client.get("/sales/forecast/?period=month&date=2025-03-10&group_by=team")
    assert teams.status_code == 200
    assert "North sales" in teams.content.decode()
