"""Triggers read the apps that own the events and steps call the apps that own the changes:
a lifecycle move to MQL starts the MQL hand-off flow, whose steps hand the contact to sales
(leads' hand-off, routed) and queue the email; a contact entering a segment starts a flow; a
stage move the lifecycle rules refuse is recorded and the flow goes on."""

from __future__ import annotations

import datetime as dt

from conftest import World
from tandem.automation import runner, services, triggers
from tandem.automation.graph import linear
from tandem.automation.library import mql_handoff
from tandem.automation.models import Enrolment, FlowMessage, StepRun
from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.leads import services as leads
from tandem.leads.models import Handoff
from tandem.marketing import services as marketing


def _published(actor: Actor, name: str, graph: dict) -> object:  # type: ignore[type-arg]
    flow = services.flow_create(actor=actor, name=name, graph=graph)
    services.flow_publish(actor=actor, flow=flow)
    flow.refresh_from_db()
    return flow


def test_an_mql_starts_the_hand_off_flow_and_leads_gets_the_hand_off(world: World) -> None:
    marketer = Actor(user=world.user("marketer"))
    _published(marketer, "MQL hand-off", mql_handoff())
    ada = crm.contact_create(actor=Actor.system(), first_name="Ada", email="ada@example.com")
    leads.lifecycle_move(actor=marketer, contact=ada, stage="mql", reason="score")
    assert triggers.dispatch_all() == 1
    runner.run_until_idle(deliver=False)
    enrolment = Enrolment.objects.get(contact=ada)
    assert enrolment.status == "completed"
    assert list(enrolment.steps.values_list("node", "outcome")) == [
        ("s1", "handed off to sales"),
        ("s2", "email queued"),
        ("s3", "goal reached"),
    ]
    handoff = Handoff.objects.get(contact=ada)
    assert handoff.source_ref == f"flow:{enrolment.flow_id}"
    assert FlowMessage.objects.get().subject == "Someone will be in touch"


def test_entering_a_segment_starts_a_flow_and_a_refused_stage_move_is_recorded(
    world: World,
) -> None:
    marketer = Actor(user=world.user("marketer"))
    segment = marketing.segments.segment_create(
        actor=marketer,
        name="Everyone with an email",
        definition={"type": "field", "field": "contact.email", "op": "is_not_empty"},
    )
    graph = linear(
        {"kind": "segment_entered", "segment_id": segment.pk},
        [("set_stage", {"stage": "customer"}), ("set_stage", {"stage": "lead"}), ("goal", {})],
    )
    flow = _published(marketer, "Entered", graph)
    bob = crm.contact_create(actor=Actor.system(), first_name="Bob", email="bob@example.com")
    marketing.segments.segment_refresh(segment_id=segment.pk)
    assert triggers.dispatch_all() >= 1
    runner.run_until_idle(now=dt.datetime.now(dt.UTC))
    enrolment = Enrolment.objects.get(flow=flow, contact=bob)
    outcomes = list(StepRun.objects.filter(enrolment=enrolment).values_list("outcome", flat=True))
    assert outcomes[0] == "stage customer"
    assert outcomes[1].startswith("refused: ")  # a customer does not go back to lead
    assert outcomes[2] == "goal reached"
    bob.refresh_from_db()
    assert bob.lifecycle_stage == "customer"


def test_a_training_attended_and_a_visit_reported_start_their_flows(world: World) -> None:
    """The touchpoints programmes and field write (their own kinds) are what the triggers read."""
    from tandem.field.services import TOUCHPOINT_KIND as VISIT_KIND

    marketer = Actor(user=world.user("marketer"))
    flows = {
        kind: _published(marketer, kind, linear({"kind": kind}, [("goal", {})]))
        for kind in ("training_completed", "visit_reported")
    }
    ada = crm.contact_create(actor=Actor.system(), first_name="Ada", email="ada@example.com")
    bob = crm.contact_create(actor=Actor.system(), first_name="Bob", email="bob@example.com")
    crm.touchpoint_record(
        channel="training", kind="training_attended", department="field", contact=ada
    )
    crm.touchpoint_record(channel="field_visit", kind=VISIT_KIND, department="field", contact=bob)
    assert triggers.dispatch_all() == 2
    assert Enrolment.objects.get(flow=flows["training_completed"]).contact_id == ada.pk
    assert Enrolment.objects.get(flow=flows["visit_reported"]).contact_id == bob.pk


def test_a_task_step_makes_the_owners_task_through_sales_audited(world: World) -> None:
    from tandem.core.models import AuditEntry
    from tandem.sales.models import SalesTask

    marketer = Actor(user=world.user("marketer"))
    rep = world.user("sales_rep")
    flow = _published(
        marketer,
        "Call them",
        linear({"kind": "manual"}, [("create_task", {"title": "Call {first_name}"}), ("goal", {})]),
    )
    ada = crm.contact_create(
        actor=Actor.system(), first_name="Ada", email="ada@example.com", owner_id=rep.pk
    )
    services.enrol_test(actor=marketer, flow=flow, contact=ada)  # type: ignore[arg-type]
    runner.run_until_idle(now=dt.datetime.now(dt.UTC))
    task = SalesTask.objects.get(contact=ada)
    assert (task.owner, task.title) == (rep, "Call Ada")
    assert AuditEntry.objects.filter(
        model="sales.SalesTask", object_id=str(task.pk), action="create"
    ).exists()
