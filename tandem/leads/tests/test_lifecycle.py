"""Lifecycle: allowed moves only, each on the timeline with who and why, time kept per stage."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm.models import Contact, Touchpoint
from tandem.leads.lifecycle import allowed_targets, is_allowed, lifecycle_move, time_in_stages
from tandem.leads.models import StageHistory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


def test_allowed_moves():
    assert is_allowed("lead", "mql")
    assert is_allowed("lead", "customer")
    assert not is_allowed("sql", "lead")
    assert not is_allowed("customer", "recycled")
    assert allowed_targets("recycled") == ["lead", "mql", "disqualified"]
    assert allowed_targets("disqualified") == ["lead", "mql"]
    assert allowed_targets("customer") == ["opportunity"]
    assert allowed_targets("sql") == ["opportunity", "customer", "recycled", "disqualified"]


def test_each_move_is_audited_on_the_timeline_and_timed(world, make_lead):
    marketer = world.user("marketer")
    rep = world.user("sales_rep")
    with time_machine.travel(T0, tick=False):
        contact = make_lead()
    with time_machine.travel(T0 + dt.timedelta(hours=5), tick=False):
        assert (
            lifecycle_move(
                actor=Actor(user=marketer), contact=contact, stage="mql", reason="Score 62 ≥ 50"
            )
            is True
        )
    with time_machine.travel(T0 + dt.timedelta(hours=8), tick=False):
        lifecycle_move(actor=Actor(user=rep), contact=contact, stage="sal", reason="Accepted")
    contact.refresh_from_db()
    assert contact.lifecycle_stage == "sal"
    rows = list(
        StageHistory.objects.filter(contact=contact).values_list(
            "stage", "entered_at", "left_at", "changed_by__username", "reason"
        )
    )
    assert rows == [
        ("lead", T0, T0 + dt.timedelta(hours=5), None, ""),
        (
            "mql",
            T0 + dt.timedelta(hours=5),
            T0 + dt.timedelta(hours=8),
            "marketer_north",
            "Score 62 ≥ 50",
        ),
        ("sal", T0 + dt.timedelta(hours=8), None, "sales_rep_north", "Accepted"),
    ]
    assert time_in_stages(contact, now=T0 + dt.timedelta(hours=10)) == {
        "lead": 5 * 3600.0,
        "mql": 3 * 3600.0,
        "sal": 2 * 3600.0,
    }
    timeline = Touchpoint.objects.filter(contact=contact, channel="lifecycle").order_by(
        "occurred_at"
    )
    assert [(t.actor.username, t.department, t.properties) for t in timeline] == [
        ("marketer_north", "marketing", {"from": "lead", "to": "mql", "reason": "Score 62 ≥ 50"}),
        ("sales_rep_north", "sales", {"from": "mql", "to": "sal", "reason": "Accepted"}),
    ]
    audit = AuditEntry.objects.filter(
        model="crm.Contact", object_id=str(contact.pk), action="update"
    )
    assert [a.changes["lifecycle_stage"] for a in audit.order_by("at", "id")] == [
        ["lead", "mql"],
        ["mql", "sal"],
    ]


def test_a_forbidden_move_changes_nothing(world, make_lead):
    contact = make_lead()
    lifecycle_move(actor=Actor.system(), contact=contact, stage="customer", reason="Won")
    touchpoints = Touchpoint.objects.count()
    with pytest.raises(InvalidInput) as exc:
        lifecycle_move(actor=Actor.system(), contact=contact, stage="recycled", reason="x")
    assert exc.value.code == "transition_not_allowed"
    assert Contact.objects.get(pk=contact.pk).lifecycle_stage == "customer"
    assert StageHistory.objects.filter(contact=contact).count() == 2
    assert Touchpoint.objects.count() == touchpoints


def test_bad_input_is_refused_and_same_stage_is_a_no_op(make_lead):
    contact = make_lead()
    with pytest.raises(InvalidInput) as exc:
        lifecycle_move(actor=Actor.system(), contact=contact, stage="mql", reason="  ")
    assert exc.value.errors == {"reason": ["Say why the stage changes."]}
    with pytest.raises(InvalidInput):
        lifecycle_move(actor=Actor.system(), contact=contact, stage="prospect", reason="x")
    assert lifecycle_move(actor=Actor.system(), contact=contact, stage="lead", reason="x") is False
    assert not StageHistory.objects.exists()
