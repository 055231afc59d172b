"""Deals through services: creation, products, stage moves with history, won and lost."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm.models import Contact, Touchpoint
from tandem.sales import services
from tandem.sales.models import Deal, DealStageVisit, DealStatus


def _deal(world, sales, **extra):  # type: ignore[no-untyped-def]
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    data = {
        "actor": Actor(user=rep),
        "name": "Tractors for north",
        "owner_id": rep.pk,
        "amount": "1000.00",
        "close_date": dt.date(2025, 3, 20),
        "contacts": [{"contact_id": contact.pk, "role": "decision_maker"}],
    }
    data.update(extra)
    return services.deal_create(**data)


def test_create_deal_sets_stage_history_contacts_audit_timeline_and_lifecycle(world, sales):
    deal = _deal(world, sales)
    contact = world.contacts[("sales_rep", "north")]
    assert deal.stage == sales.stages["Qualify"]
    assert deal.amount == Decimal("1000.00")
    assert deal.currency == "EUR"
    assert deal.account_id == contact.account_id
    assert list(deal.deal_contacts.values_list("contact_id", "role")) == [
        (contact.pk, "decision_maker")
    ]
    visits = list(DealStageVisit.objects.filter(deal=deal).values_list("stage_id", "left_at"))
    assert visits == [(sales.stages["Qualify"].pk, None)]
    entry = AuditEntry.objects.get(model="sales.Deal", object_id=str(deal.pk), action="create")
    assert entry.actor == world.user("sales_rep")
    assert entry.changes["amount"] == [None, "1000.00"]
    tp = Touchpoint.objects.get(kind="deal_created")
    assert (tp.contact_id, tp.department, tp.channel) == (contact.pk, "sales", "sales")
    assert tp.properties["deal_id"] == deal.pk
    assert Contact.objects.get(pk=contact.pk).lifecycle_stage == "opportunity"


def test_lines_price_from_price_list_with_discount(world, sales):
    deal = _deal(
        world,
        sales,
        lines=[
            {"product_id": sales.widget.pk, "quantity": "3", "discount_percent": "10"},
            {"product_id": sales.gadget.pk, "quantity": "2"},
        ],
    )
    assert [str(x) for x in deal.lines.values_list("total", flat=True)] == ["270.00", "501.00"]
    assert deal.amount == Decimal("771.00")
    with pytest.raises(InvalidInput) as err:
        services.deal_update(actor=Actor(user=world.user("sales_rep")), deal=deal, amount="5")
    assert "amount" in err.value.errors


def test_line_without_price_in_currency_is_refused_and_nothing_stored(world, sales):
    with pytest.raises(InvalidInput) as err:
        _deal(world, sales, currency_code="RUB", lines=[{"product_id": sales.gadget.pk}])
    assert err.value.errors == {"lines": ["Гаджет has no price in RUB"]}
    assert Deal.objects.count() == 0
    assert Touchpoint.objects.filter(kind="deal_created").count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "abc"),
        ("amount", "-1"),
        ("amount", 1.5),
        ("currency_code", "euro"),
        ("name", ""),
        ("name", "x" * 201),
        ("owner_id", 999999),
    ],
)
def test_bad_input_is_refused(world, sales, field, value):
    with pytest.raises(InvalidInput):
        _deal(world, sales, **{field: value})
    assert Deal.objects.count() == 0


def test_rep_cannot_attach_another_sides_contact(world, sales):
    other = world.contacts[("sales_rep", "south")]
    with pytest.raises(InvalidInput) as err:
        _deal(world, sales, contacts=[{"contact_id": other.pk, "role": "user"}])
    assert err.value.errors == {"contacts": [f"no such contact: {other.pk}"]}


def test_stage_history_time_in_stage_and_win(world, sales):
    actor = Actor(user=world.user("sales_rep"))
    with time_machine.travel(dt.datetime(2025, 1, 6, 9, tzinfo=dt.UTC), tick=False) as clock:
        deal = _deal(world, sales)
        clock.move_to(dt.datetime(2025, 1, 9, 9, tzinfo=dt.UTC))
        services.deal_move(actor=actor, deal=deal, stage_id=sales.stages["Propose"].pk)
        clock.move_to(dt.datetime(2025, 1, 10, 15, tzinfo=dt.UTC))
        deal = services.deal_win(actor=actor, deal=deal)
    visits = list(DealStageVisit.objects.filter(deal=deal).order_by("entered_at"))
    assert [(v.stage.name, v.left_at - v.entered_at if v.left_at else None) for v in visits] == [
        ("Qualify", dt.timedelta(days=3)),
        ("Propose", dt.timedelta(days=1, hours=6)),
        ("Won", None),
    ]
    assert deal.status == DealStatus.WON
    assert deal.closed_at == dt.datetime(2025, 1, 10, 15, tzinfo=dt.UTC)
    contact = world.contacts[("sales_rep", "north")]
    assert Contact.objects.get(pk=contact.pk).lifecycle_stage == "customer"
    assert list(
        Touchpoint.objects.filter(properties__deal_id=deal.pk)
        .order_by("occurred_at")
        .values_list("kind", flat=True)
    ) == ["deal_created", "deal_stage_changed", "deal_won"]
    with pytest.raises(InvalidInput):
        services.deal_move(actor=actor, deal=deal, stage_id=sales.stages["Qualify"].pk)


def test_lose_needs_a_reason_and_records_it(world, sales):
    actor = Actor(user=world.user("sales_rep"))
    deal = _deal(world, sales)
    with pytest.raises(InvalidInput) as err:
        services.deal_lose(actor=actor, deal=deal, loss_reason_id=None)
    assert list(err.value.errors) == ["loss_reason_id"]
    with pytest.raises(InvalidInput):
        services.deal_move(actor=actor, deal=deal, stage_id=sales.stages["Lost"].pk)
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.OPEN
    deal = services.deal_lose(
        actor=actor, deal=deal, loss_reason_id=sales.reason.pk, note="Competitor was 20% cheaper"
    )
    assert (deal.status, deal.loss_reason, deal.loss_note, deal.stage.name) == (
        "lost",
        sales.reason,
        "Competitor was 20% cheaper",
        "Lost",
    )
    reopened = services.deal_reopen(actor=actor, deal=deal)
    assert (reopened.status, reopened.loss_reason, reopened.closed_at) == ("open", None, None)


def test_customer_is_not_moved_back_to_opportunity(world, sales):
    from tandem.leads import services as leads

    contact = world.contacts[("sales_rep", "north")]
    leads.lifecycle_move(
        actor=Actor.system(), contact=contact, stage="customer", reason="bought elsewhere"
    )
    _deal(world, sales)
    assert Contact.objects.get(pk=contact.pk).lifecycle_stage == "customer"


def test_pipeline_needs_won_and_lost_stages(db):
    with pytest.raises(InvalidInput):
        services.pipeline_create(
            actor=Actor.system(), name="Bad", stages=[{"name": "A", "probability": 10}]
        )
