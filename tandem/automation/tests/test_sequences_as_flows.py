"""Sales sequences carried over to the automation engine (migration 0003): each contact goes on
at the step it had reached, no email goes out twice, and the flow stops on a reply, a meeting or
withdrawn consent as the sequence did."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

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
from tandem.sales import sequences
from tandem.sales.models import Enrolment as SalesEnrolment
from tandem.sales.models import SalesTask, Sequence
from tandem.tracking.consent import consent_record

MONDAY = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
WEDNESDAY = MONDAY + dt.timedelta(days=2)
migration = importlib.import_module("tandem.automation.migrations.0003_sales_sequences_to_flows")


def _migrate() -> None:
    migration.sequences_to_flows(apps, None)


def _subjects(inbox: SmtpInbox) -> list[str]:
    return [str(inbox.parsed(i)["Subject"]) for i in range(len(inbox.messages))]


@pytest.fixture
def inbox(smtp_inbox: SmtpInbox, settings: Any) -> SmtpInbox:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    return smtp_inbox


@pytest.fixture
def cadence(world: World) -> Sequence:
    return sequences.sequence_create(
        actor=Actor(user=world.user("sales_rep")),
        name="Outbound",
        steps=[
            {"kind": "email", "subject": "Hello {first_name}", "body": "We make tractors."},
            {"kind": "wait", "wait_days": 2},
            {"kind": "email", "subject": "Again, {first_name}", "body": "Still tractors."},
            {"kind": "call", "body": "ask about the harvest"},
        ],
    )


def _people(world: World, *names: str) -> list[Contact]:
    people = [
        crm.contact_create(
            actor=Actor.system(), first_name=name, email=f"{name.lower()}@example.com"
        )
        for name in names
    ]
    Contact.objects.filter(pk__in=[c.pk for c in people]).update(owner=world.user("sales_rep"))
    return people


def _enrol(world: World, cadence: Sequence, people: list[Contact]) -> None:
    sequences.sequence_enrol(
        actor=Actor(user=world.user("sales_rep")),
        sequence=cadence,
        contact_ids=[c.pk for c in people],
    )


def test_the_graph_of_a_sequence_is_a_valid_flow(world: World, cadence: Sequence) -> None:
    graph = g.validate_graph(migration.sequence_graph(list(cadence.steps.all()), "Rita"))
    assert [n.kind for n in graph.nodes] == ["send_email", "wait", "send_email", "create_task"]
    assert graph.stop_on == ["email_reply", "meeting", "meeting_booked"]
    assert graph.trigger.kind == "manual"


def test_migrating_keeps_each_contact_at_its_step_and_sends_no_email_twice(
    world: World, cadence: Sequence, inbox: SmtpInbox, django_capture_on_commit_callbacks: Any
) -> None:
    ada, bea = _people(world, "Ada", "Bea")
    with time_machine.travel(MONDAY, tick=False):
        _enrol(world, cadence, [bea])
        with django_capture_on_commit_callbacks(execute=True):
            assert sequences.sequences_advance() == 2  # Bea: the first email, then the wait
        _enrol(world, cadence, [ada])  # Ada: enrolled, no step run yet
    assert _subjects(inbox) == ["Hello Bea"]

    _migrate()
    _migrate()  # a second run changes nothing
    flow = Flow.objects.get()
    assert (flow.name, flow.status, flow.owner) == ("Outbound", "active", cadence.owner)
    assert flow.live_version is not None
    assert flow.live_version.number == 1
    assert set(SalesEnrolment.objects.values_list("status", flat=True)) == {"moved"}
    at = dict(Enrolment.objects.values_list("contact_id", "node"))
    assert at == {ada.pk: "s1", bea.pk: "s3"}

    with time_machine.travel(MONDAY, tick=False):
        assert sequences.sequences_advance() == 0  # the old runner has nothing left
        _enrol(world, cadence, [ada, bea])  # enrolled again while the flow runs them: no-op
        assert not SalesEnrolment.objects.filter(status="active").exists()
        runner.run_until_idle(now=MONDAY)
    assert _subjects(inbox) == ["Hello Bea", "Hello Ada"]
    runner.run_until_idle(now=MONDAY + dt.timedelta(days=1))
    assert len(inbox.messages) == 2  # both wait
    runner.run_until_idle(now=WEDNESDAY)
    assert sorted(_subjects(inbox)) == ["Again, Ada", "Again, Bea", "Hello Ada", "Hello Bea"]
    assert set(Enrolment.objects.values_list("status", flat=True)) == {EnrolmentStatus.COMPLETED}
    tasks = SalesTask.objects.filter(owner=world.user("sales_rep"))
    assert sorted(tasks.values_list("title", flat=True)) == [
        "Call Ada : ask about the harvest",
        "Call Bea : ask about the harvest",
    ]


@pytest.mark.parametrize("kind", ["email_reply", "meeting", "consent"])
def test_a_reply_a_meeting_or_withdrawn_consent_stops_the_flow_run_sequence(
    world: World, cadence: Sequence, inbox: SmtpInbox, kind: str
) -> None:
    (ada,) = _people(world, "Ada")
    with time_machine.travel(MONDAY, tick=False):
        _enrol(world, cadence, [ada])
    _migrate()
    runner.run_until_idle(now=MONDAY)
    assert _subjects(inbox) == ["Hello Ada"]
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
    assert _subjects(inbox) == ["Hello Ada"]  # the second email never left
    assert not SalesTask.objects.exists()


def test_a_paused_sequence_becomes_a_paused_flow_that_still_stops_on_a_reply(
    world: World, cadence: Sequence, inbox: SmtpInbox
) -> None:
    (ada,) = _people(world, "Ada")
    with time_machine.travel(MONDAY, tick=False):
        _enrol(world, cadence, [ada])
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
    assert len(inbox.messages) == 0
