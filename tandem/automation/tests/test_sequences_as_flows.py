"""Sales sequences carried over to the automation engine by the migrations: automation 0003
(each sequence a flow, each running contact at the step it had reached, no email twice), sales
0005 (each sequence linked to its flow, a faithful version 2 for new enrolments while carried
over ones keep version 1) and automation 0004 (segment reactions "enrol in a sequence" become
flows). The sequences and enrolments here are written as the old sales runner left them."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
import time_machine
from django.apps import apps

from conftest import SmtpInbox, World
from tandem.automation import graph as g
from tandem.automation import runner, triggers
from tandem.automation.models import Enrolment, EnrolmentStatus, Flow, FlowStatus
from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.marketing.models import ReactionDelivery, SegmentEvent, SegmentReaction
from tandem.marketing.segments import members
from tandem.marketing.segments import services as seg
from tandem.sales import sequences
from tandem.sales.models import Enrolment as SalesEnrolment
from tandem.sales.models import SalesTask, Sequence, SequenceStep
from tandem.tracking.consent import consent_record

MONDAY = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
WEDNESDAY = MONDAY + dt.timedelta(days=2)
to_flows = importlib.import_module("tandem.automation.migrations.0003_sales_sequences_to_flows")
linking = importlib.import_module("tandem.sales.migrations.0005_sequence_runs_on_its_flow")
reactions_moved = importlib.import_module(
    "tandem.automation.migrations.0004_segment_sequence_reactions_to_flows"
)


def _migrate() -> None:
    to_flows.sequences_to_flows(apps, None)
    linking.link_flows(apps, None)


def _subjects(inbox: SmtpInbox) -> list[str]:
    return [str(inbox.parsed(i)["Subject"]) for i in range(len(inbox.messages))]


@pytest.fixture
def cadence(world: World) -> Sequence:
    """A sequence as the old sales runner knew it: rows only, no flow."""
    sequence = Sequence.objects.create(name="Outbound", owner=world.user("sales_rep"))
    steps = [
        ("email", 0, "Hello {first_name}", "We make tractors, {rep_name}."),
        ("wait", 2, "", ""),
        ("email", 0, "Again, {first_name}", "Still tractors."),
        ("call", 0, "", "ask about the harvest"),
    ]
    for position, (kind, days, subject, body) in enumerate(steps):
        SequenceStep.objects.create(
            sequence=sequence,
            position=position,
            kind=kind,
            wait_days=days,
            subject=subject,
            body=body,
        )
    return sequence


def _people(world: World, *names: str) -> list[Contact]:
    people = [
        crm.contact_create(
            actor=Actor.system(), first_name=name, email=f"{name.lower()}@example.com"
        )
        for name in names
    ]
    Contact.objects.filter(pk__in=[c.pk for c in people]).update(owner=world.user("sales_rep"))
    return people


def _legacy_enrol(
    world: World, sequence: Sequence, contact: Contact, next_step: int, due: dt.datetime
) -> SalesEnrolment:
    return SalesEnrolment.objects.create(
        sequence=sequence,
        contact=contact,
        enrolled_by=world.user("sales_rep"),
        next_step=next_step,
        next_run_at=due,
        enrolled_at=MONDAY,
    )


def test_the_graph_of_a_sequence_is_a_valid_flow(world: World, cadence: Sequence) -> None:
    graph = g.validate_graph(to_flows.sequence_graph(list(cadence.steps.all()), "Rita"))
    assert [n.kind for n in graph.nodes] == ["send_email", "wait", "send_email", "create_task"]
    assert graph.stop_on == ["email_reply", "meeting", "meeting_booked"]
    assert graph.trigger.kind == "manual"
    faithful = g.validate_graph(linking._graph(list(cadence.steps.all())))
    assert faithful.nodes[0].config["from_owner"] is True
    assert faithful.nodes[1].config == {"days": 2, "business_days": True}
    assert "consent_withdrawn" in faithful.stop_on


def test_migrating_keeps_each_contact_at_its_step_and_on_its_version(
    world: World, cadence: Sequence, smtp_inbox: SmtpInbox
) -> None:
    ada, bea, cleo = _people(world, "Ada", "Bea", "Cleo")
    _legacy_enrol(world, cadence, bea, 2, WEDNESDAY)  # Bea: her first email went, she waits
    _legacy_enrol(world, cadence, ada, 0, MONDAY)  # Ada: enrolled, no step run yet
    done = _legacy_enrol(world, cadence, cleo, 4, MONDAY)  # Cleo: every step ran

    _migrate()
    _migrate()  # a second run changes nothing
    flow = Flow.objects.get()
    cadence.refresh_from_db()
    assert cadence.flow_id == flow.pk
    assert (flow.name, flow.status, flow.owner) == ("Outbound", "active", cadence.owner)
    assert flow.live_version is not None
    assert (flow.live_version.number, flow.versions.count()) == (2, 2)
    assert set(SalesEnrolment.objects.exclude(pk=done.pk).values_list("status", flat=True)) == {
        "moved"
    }
    done.refresh_from_db()
    assert done.status == "finished"
    at = dict(Enrolment.objects.values_list("contact_id", "node"))
    assert at == {ada.pk: "s1", bea.pk: "s3"}
    assert set(Enrolment.objects.values_list("version__number", flat=True)) == {1}

    # still running in the flow: enrolling again is a no-op
    rep = Actor(user=world.user("sales_rep"))
    assert sequences.sequence_enrol(actor=rep, sequence=cadence, contact_ids=[ada.pk]) == []
    runner.run_until_idle(now=MONDAY)
    assert _subjects(smtp_inbox) == ["Hello Ada"]
    runner.run_until_idle(now=WEDNESDAY)
    assert sorted(_subjects(smtp_inbox)) == ["Again, Ada", "Again, Bea", "Hello Ada"]
    assert set(Enrolment.objects.values_list("status", flat=True)) == {EnrolmentStatus.COMPLETED}
    tasks = SalesTask.objects.filter(owner=world.user("sales_rep"))
    assert sorted(tasks.values_list("title", flat=True)) == [
        "Call Ada : ask about the harvest",
        "Call Bea : ask about the harvest",
    ]
    # a new enrolment takes version 2: replies to the rep, the name filled when sent
    with time_machine.travel(WEDNESDAY, tick=False):
        (again,) = sequences.sequence_enrol(actor=rep, sequence=cadence, contact_ids=[ada.pk])
    assert again.version.number == 2
    runner.run_until_idle(now=WEDNESDAY)
    last = smtp_inbox.parsed(len(smtp_inbox.messages) - 1)
    assert last["Reply-To"] == world.user("sales_rep").email


@pytest.mark.parametrize("kind", ["email_reply", "meeting", "consent"])
def test_a_reply_a_meeting_or_withdrawn_consent_stops_the_flow_run_sequence(
    world: World, cadence: Sequence, smtp_inbox: SmtpInbox, kind: str
) -> None:
    (ada,) = _people(world, "Ada")
    _legacy_enrol(world, cadence, ada, 0, MONDAY)
    _migrate()
    runner.run_until_idle(now=MONDAY)
    assert _subjects(smtp_inbox) == ["Hello Ada"]
    later = MONDAY + dt.timedelta(hours=3)
    if kind == "consent":
        consent_record(contact=ada, purpose="newsletter", state="withdrawn")
    else:
        crm.touchpoint_record(
            channel="email", kind=kind, department="sales", contact=ada, occurred_at=later
        )
    triggers.dispatch_all(now=later)
    runner.run_until_idle(now=WEDNESDAY + dt.timedelta(days=1))
    enrolment = Enrolment.objects.get()
    assert enrolment.status == EnrolmentStatus.EXITED
    assert _subjects(smtp_inbox) == ["Hello Ada"]  # the second email never left
    assert not SalesTask.objects.exists()


def test_a_paused_sequence_becomes_a_paused_flow_that_still_stops_on_a_reply(
    world: World, cadence: Sequence, smtp_inbox: SmtpInbox
) -> None:
    (ada,) = _people(world, "Ada")
    _legacy_enrol(world, cadence, ada, 0, MONDAY)
    Sequence.objects.filter(pk=cadence.pk).update(active=False)
    _migrate()
    assert Flow.objects.get().status == FlowStatus.PAUSED
    later = MONDAY + dt.timedelta(minutes=5)
    crm.touchpoint_record(
        channel="email", kind="email_reply", department="sales", contact=ada, occurred_at=later
    )
    triggers.dispatch_all(now=later)
    runner.run_until_idle(now=WEDNESDAY)
    assert Enrolment.objects.get().status == EnrolmentStatus.EXITED
    assert len(smtp_inbox.messages) == 0


def test_a_sequence_reaction_becomes_a_flow_and_a_pending_entry_is_not_lost(
    world: World, smtp_inbox: SmtpInbox
) -> None:
    rep = Actor(user=world.user("sales_rep"))
    sequence = sequences.sequence_create(
        actor=rep, name="Warm", steps=[{"kind": "email", "subject": "Hi", "body": "Hello"}]
    )
    segment = seg.segment_create(actor=Actor.system(), name="VIPs", kind="static")
    ada, bea = _people(world, "Ada", "Bea")
    members.members_add(actor=Actor.system(), segment=segment, contact_ids=[ada.pk])
    entered = SegmentEvent.objects.get(contact=ada, kind="entered")
    reaction = SegmentReaction.objects.create(
        segment=segment,
        kind="sequence",
        sequence=sequence,
        created_by=world.user("head"),
        after_event_id=entered.pk,
    )
    ReactionDelivery.objects.create(reaction=reaction, event=entered, next_attempt_at=MONDAY)
    webhook = SegmentReaction.objects.create(
        segment=segment, kind="webhook", url="https://example.com/h", after_event_id=entered.pk
    )

    reactions_moved.reactions_to_flows(apps, None)
    reactions_moved.reactions_to_flows(apps, None)  # a second run changes nothing
    reaction.refresh_from_db()
    webhook.refresh_from_db()
    assert (reaction.active, webhook.active) == (False, True)
    assert ReactionDelivery.objects.get().status == "skipped"
    trigger = Flow.objects.exclude(pk=sequence.flow_id).get()
    assert trigger.owner == world.user("head")
    assert trigger.live_version is not None
    graph = g.validate_graph(trigger.live_version.graph)
    assert (graph.trigger.kind, graph.trigger.segment_id) == ("segment_entered", segment.pk)
    assert graph.nodes[0].config == {"flow_id": sequence.flow_id}

    members.members_add(actor=Actor.system(), segment=segment, contact_ids=[bea.pk])
    triggers.dispatch_all(now=MONDAY)
    runner.run_until_idle(now=MONDAY)
    in_sequence = Enrolment.objects.filter(flow_id=sequence.flow_id)
    assert sorted(in_sequence.values_list("contact_id", flat=True)) == sorted([ada.pk, bea.pk])
    assert sorted(_subjects(smtp_inbox)) == ["Hi", "Hi"]
