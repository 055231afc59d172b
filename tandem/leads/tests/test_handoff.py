"""Hand-off: routing (owner, territory, weighted round-robin within capacity), the SLA clocks in
business hours with a controllable clock, accept/reject/contact, escalation and notifications."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import Holiday
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.leads import routing, services
from tandem.leads.models import Handoff, Notification, RepCapacity, StageHistory, Territory

from .conftest import FRIDAY_1730_MSK, MSK

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def test_account_owner_first_then_territory_then_weighted_round_robin(world, reps, make_lead):
    north, south, east = reps
    owned = world.contacts[("sales_rep", "north")]
    assert routing.route(owned).rep == north
    assert routing.route(owned).routed_by == "account_owner"
    territory = Territory.objects.create(name="South medical", region="south", industry="medical")
    territory.members.add(south)
    Territory.objects.create(name="South any", region="south").members.add(east)
    r = routing.route(make_lead(region="South", industry="medical"))
    assert (r.rep, r.routed_by, r.territory) == (south, "territory", territory)
    RepCapacity.objects.update(open_count=0, assigned_total=0)
    sequence = [routing.route(make_lead(region="west")).rep.username for _ in range(6)]
    assert sequence == [
        "sales_rep_north",
        "sales_rep_south",
        "sales_rep_east",
        "sales_rep_north",
        "sales_rep_north",
        "sales_rep_south",
    ]
    assert dict(RepCapacity.objects.values_list("user__username", "open_count")) == {
        "sales_rep_north": 3,
        "sales_rep_south": 2,
        "sales_rep_east": 1,
    }


def test_full_reps_are_skipped_and_nobody_left_means_the_head_assigns(world, reps, make_lead):
    RepCapacity.objects.update(open_count=F_capacity())
    with time_machine.travel(FRIDAY_1730_MSK, tick=False):
        handoff = services.handoff_create(actor=SYSTEM, contact=make_lead(), trigger="manual")
    assert (handoff.assigned_to, handoff.routed_by, handoff.accept_due_at) == (None, "nobody", None)
    assert sorted(Notification.objects.values_list("user__username", "kind")) == [
        ("head_north", "handoff_unassigned"),
        ("head_south", "handoff_unassigned"),
    ]
    rep = reps[1]
    with time_machine.travel(FRIDAY_1730_MSK, tick=False):
        services.handoff_assign(actor=Actor(user=world.user("head")), handoff=handoff, rep=rep)
    handoff.refresh_from_db()
    assert (handoff.assigned_to, handoff.routed_by) == (rep, "head")
    assert handoff.accept_due_at == dt.datetime(2025, 3, 10, 12, 30, tzinfo=MSK)


def F_capacity():
    from django.db.models import F

    return F("capacity")


def test_friday_evening_mql_is_due_monday_and_escalates_after(
    world, reps, make_lead, django_capture_on_commit_callbacks
):
    lead = make_lead(region="west")
    with (
        time_machine.travel(FRIDAY_1730_MSK, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        handoff = services.handoff_create(actor=SYSTEM, contact=lead, trigger="mql")
    north = reps[0]
    assert handoff.assigned_to == north
    assert handoff.accept_due_at == dt.datetime(2025, 3, 10, 12, 30, tzinfo=MSK)
    assert [m.subject for m in mail.outbox] == ["New lead: Lead 1"]
    assert mail.outbox[0].to == ["sales_rep.north@tandem.test"]
    lead.refresh_from_db()
    assert (lead.lifecycle_stage, lead.owner) == ("mql", north)
    with time_machine.travel(dt.datetime(2025, 3, 10, 12, 29, tzinfo=MSK), tick=False):
        assert services.handoff_check_sla() == 0
    mail.outbox.clear()
    with (
        time_machine.travel(dt.datetime(2025, 3, 10, 12, 31, tzinfo=MSK), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.handoff_check_sla() == 1
        assert services.handoff_check_sla() == 0  # claimed once
    handoff.refresh_from_db()
    south = reps[1]
    assert (handoff.assigned_to, handoff.breaches, handoff.status) == (south, 1, "pending")
    assert handoff.accept_due_at == dt.datetime(2025, 3, 10, 16, 31, tzinfo=MSK)
    assert sorted(m.subject for m in mail.outbox) == [
        "New lead: Lead 1",
        "SLA breach: Lead 1",
        "SLA breach: Lead 1",
    ]
    assert RepCapacity.objects.get(user=north).open_count == 0
    assert RepCapacity.objects.get(user=south).open_count == 1
    assert list(handoff.events.values_list("kind", "rep__username")) == [
        ("routed", "sales_rep_north"),
        ("breached", "sales_rep_north"),
        ("routed", "sales_rep_south"),
    ]
    note = Notification.objects.get(user=world.user("head", "south"), kind="handoff_breached")
    assert "not accepted in time by sales_rep_north" in note.text


def test_a_holiday_monday_moves_the_deadline_to_tuesday(world, reps, make_lead):
    Holiday.objects.create(date=dt.date(2025, 3, 10), name="Holiday")
    with time_machine.travel(FRIDAY_1730_MSK, tick=False):
        handoff = services.handoff_create(actor=SYSTEM, contact=make_lead(), trigger="mql")
    assert handoff.accept_due_at == dt.datetime(2025, 3, 11, 12, 30, tzinfo=MSK)


def test_the_reps_time_zone_drives_the_clock(world, reps, make_lead):
    east = reps[2]  # Vladivostok, UTC+10: Friday 17:30 Moscow is Saturday 00:30 there
    Territory.objects.create(name="East", region="east").members.add(east)
    with time_machine.travel(FRIDAY_1730_MSK, tick=False):
        handoff = services.handoff_create(
            actor=SYSTEM, contact=make_lead(region="east"), trigger="mql"
        )
    assert handoff.assigned_to == east
    vladivostok = east.time_zone
    assert handoff.accept_due_at.astimezone(
        __import__("zoneinfo").ZoneInfo(vladivostok)
    ) == dt.datetime(2025, 3, 10, 13, 0, tzinfo=__import__("zoneinfo").ZoneInfo(vladivostok))


def test_accept_then_first_contact_clock_then_contact_from_the_timeline(world, reps, make_lead):
    lead = make_lead(region="west")
    with time_machine.travel(FRIDAY_1730_MSK, tick=False):
        handoff = services.handoff_create(actor=SYSTEM, contact=lead, trigger="mql")
    north = reps[0]
    monday_10 = dt.datetime(2025, 3, 10, 10, 0, tzinfo=MSK)
    with time_machine.travel(monday_10, tick=False):
        services.handoff_accept(actor=Actor(user=north), handoff=handoff)
    handoff.refresh_from_db()
    assert handoff.status == "accepted"
    assert handoff.first_contact_due_at == dt.datetime(2025, 3, 10, 18, 0, tzinfo=MSK)  # 8 h
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "sal"
    crm.touchpoint_record(
        channel="phone",
        kind="call",
        department="sales",
        contact=lead,
        actor=north,
        occurred_at=dt.datetime(2025, 3, 10, 15, 0, tzinfo=MSK),
    )
    with time_machine.travel(dt.datetime(2025, 3, 11, 11, 0, tzinfo=MSK), tick=False):
        assert services.handoff_check_sla() == 0
    handoff.refresh_from_db()
    assert (handoff.status, handoff.breaches) == ("contacted", 0)
    assert handoff.contacted_at == dt.datetime(2025, 3, 10, 15, 0, tzinfo=MSK)
    assert RepCapacity.objects.get(user=north).open_count == 0


def test_only_the_assigned_rep_acts_and_states_are_checked(world, reps, make_lead):
    handoff = services.handoff_create(actor=SYSTEM, contact=make_lead(region="west"), trigger="mql")
    with pytest.raises(InvalidInput) as exc:
        services.handoff_accept(actor=Actor(user=reps[1]), handoff=handoff)
    assert exc.value.code == "forbidden"
    services.handoff_accept(actor=Actor(user=reps[0]), handoff=handoff)
    with pytest.raises(InvalidInput) as exc:
        services.handoff_accept(actor=Actor(user=reps[0]), handoff=handoff)
    assert exc.value.code == "wrong_state"


def test_rejection_needs_a_reason_and_returns_the_lead_to_marketing(world, reps, make_lead):
    lead = make_lead(region="west")
    handoff = services.handoff_create(actor=SYSTEM, contact=lead, trigger="mql")
    rep = Actor(user=reps[0])
    with pytest.raises(InvalidInput) as exc:
        services.handoff_reject(actor=rep, handoff=handoff, reason="", outcome="recycle")
    assert set(exc.value.errors) == {"reason"}
    with pytest.raises(InvalidInput) as exc:
        services.handoff_reject(actor=rep, handoff=handoff, reason="other", note=" ")
    assert set(exc.value.errors) == {"note"}
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"
    services.handoff_reject(
        actor=rep,
        handoff=handoff,
        reason="no_budget",
        note="Budget frozen until Q3",
        outcome="recycle",
    )
    handoff.refresh_from_db()
    lead.refresh_from_db()
    assert (handoff.status, handoff.rejection_reason, handoff.rejection_note) == (
        "rejected",
        "no_budget",
        "Budget frozen until Q3",
    )
    assert (lead.lifecycle_stage, lead.owner) == ("recycled", None)
    assert StageHistory.objects.get(contact=lead, left_at__isnull=True).reason == (
        "Rejected by sales: No budget"
    )
    assert RepCapacity.objects.get(user=reps[0]).open_count == 0
    # back in nurture, the next hand-off is a new one
    second = services.handoff_create(actor=SYSTEM, contact=lead, trigger="manual")
    assert second.pk != handoff.pk
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "mql"


def test_disqualify_on_rejection(world, reps, make_lead):
    lead = make_lead(region="west")
    handoff = services.handoff_create(actor=SYSTEM, contact=lead, trigger="mql")
    services.handoff_reject(
        actor=Actor(user=reps[0]), handoff=handoff, reason="competitor", outcome="disqualify"
    )
    assert Contact.objects.get(pk=lead.pk).lifecycle_stage == "disqualified"


def test_quote_request_from_sales_is_one_open_handoff(world, reps, make_lead):
    lead = make_lead(region="west")
    first = services.handoff_request_from_quote(
        contact_id=lead.pk, note="Quote for 3 units", source_ref="quote:17"
    )
    again = services.handoff_request_from_quote(contact_id=lead.pk)
    assert first.pk == again.pk
    assert (first.trigger, first.note, first.source_ref) == (
        "quote_request",
        "Quote for 3 units",
        "quote:17",
    )
    assert Handoff.objects.count() == 1


def test_repeated_breaches_leave_the_lead_with_the_head(world, reps, make_lead):
    handoff = services.handoff_create(actor=SYSTEM, contact=make_lead(region="west"), trigger="mql")
    later = handoff.accept_due_at
    for _ in range(3):
        later = later + dt.timedelta(days=3)
        services.handoff_check_sla(now=later)
    handoff.refresh_from_db()
    assert (handoff.breaches, handoff.assigned_to, handoff.accept_due_at) == (3, None, None)
    assert set(RepCapacity.objects.values_list("open_count", flat=True)) == {0}
