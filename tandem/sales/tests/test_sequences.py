"""Sequences run by automation's runner with a controllable clock: each step once, emails in the
rep's name with replies to the rep, waits in business days (weekends and holidays skipped),
call and LinkedIn steps as tasks on the rep's list, stopping on a reply, a meeting or withdrawn
consent, a new version for an edit while running enrolments keep theirs, and a segment entry
enrolling once. Emails go through a real SMTP server."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.urls import reverse

from conftest import SmtpInbox, World
from tandem.automation import graph as g
from tandem.automation import runner, triggers
from tandem.automation.models import Enrolment, EnrolmentStatus, Flow, FlowStatus
from tandem.core.audit import Actor
from tandem.core.business_days import add_business_days
from tandem.core.errors import InvalidInput
from tandem.core.models import Holiday
from tandem.crm import services as crm
from tandem.crm.models import Touchpoint
from tandem.marketing.segments import members, reactions
from tandem.marketing.segments import services as seg
from tandem.sales import sequences
from tandem.sales.models import SalesTask, Sequence
from tandem.sales.services import sequence_stop_for_contact
from tandem.tracking.consent import consent_record

MONDAY = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
FRIDAY = dt.datetime(2025, 6, 6, 9, 0, tzinfo=dt.UTC)
STEPS = [
    {
        "kind": "email",
        "subject": "Hello {first_name}",
        "body": "Dear {first_name},\nwe make tractors. — {rep_name}",
    },
    {"kind": "wait", "wait_days": 2},
    {"kind": "call", "body": "ask about the harvest"},
    {"kind": "linkedin"},
]


@pytest.fixture
def inbox(smtp_inbox: SmtpInbox, settings: Any) -> SmtpInbox:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    return smtp_inbox


@pytest.fixture
def cadence(world: World) -> Sequence:
    rep = world.user("sales_rep")
    rep.first_name, rep.last_name = "Rita", "Rep"
    rep.save(update_fields=["first_name", "last_name"])
    return sequences.sequence_create(actor=Actor(user=rep), name="Outbound", steps=STEPS)


def _tick(now: dt.datetime) -> int:
    """What automation's periodic task does: signals and triggers, then every due step."""
    triggers.dispatch_all(now=now)
    return runner.run_until_idle(now=now)


def test_business_days_skip_weekends_and_holidays(db: None) -> None:
    friday = dt.datetime(2025, 6, 6, 15, 30, tzinfo=dt.UTC)
    assert add_business_days(friday, 1) == dt.datetime(2025, 6, 9, 15, 30, tzinfo=dt.UTC)
    Holiday.objects.create(date=dt.date(2025, 6, 9), name="Whit Monday")
    assert add_business_days(friday, 2) == dt.datetime(2025, 6, 11, 15, 30, tzinfo=dt.UTC)
    assert add_business_days(friday, 0) == friday


def test_a_sequence_is_published_as_its_flow_with_the_sales_steps(cadence: Sequence) -> None:
    assert cadence.flow is not None
    flow = Flow.objects.get(pk=cadence.flow_id)
    assert (flow.status, flow.reentry, flow.owner_id) == ("active", "after_exit", cadence.owner_id)
    assert flow.live_version is not None
    graph = g.validate_graph(flow.live_version.graph)
    assert [(n.kind, n.config) for n in graph.nodes] == [
        (
            "send_email",
            {
                "subject": "Hello {first_name}",
                "body": "Dear {first_name},\nwe make tractors. — {rep_name}",
                "from_owner": True,
            },
        ),
        ("wait", {"days": 2, "business_days": True}),
        (
            "create_task",
            {
                "title": "Call {first_name} {last_name}: ask about the harvest",
                "due_in_days": 0,
                "assign_to": "flow_owner",
                "task_kind": "call",
            },
        ),
        (
            "create_task",
            {
                "title": "Message {first_name} {last_name} on LinkedIn",
                "due_in_days": 0,
                "assign_to": "flow_owner",
                "task_kind": "linkedin",
            },
        ),
    ]
    assert graph.stop_on == ["email_reply", "meeting", "meeting_booked", "consent_withdrawn"]


def test_the_flow_runs_each_step_once_across_business_days(
    world: World, cadence: Sequence, inbox: SmtpInbox
) -> None:
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    Holiday.objects.create(date=dt.date(2025, 6, 4), name="Company day")
    with time_machine.travel(MONDAY, tick=False):
        (enrolment,) = sequences.sequence_enrol(
            actor=Actor(user=rep), sequence=cadence, contact_ids=[contact.pk]
        )
        assert (
            sequences.sequence_enrol(
                actor=Actor(user=rep), sequence=cadence, contact_ids=[contact.pk]
            )
            == []
        )
    assert _tick(MONDAY) == 2  # the email, then the wait
    assert _tick(MONDAY) == 0  # nothing is due: no step runs twice
    assert len(inbox.messages) == 1
    message = inbox.parsed(0)
    assert message["To"] == contact.email
    assert message["Subject"] == "Hello north"
    assert message["Reply-To"] == rep.email
    assert "Dear north,\r\nwe make tractors. — Rita Rep" in message.get_content()
    sent = Touchpoint.objects.get(kind="sequence_email_sent", contact=contact)
    assert (sent.department, sent.actor_id, sent.content) == ("sales", rep.pk, "Hello north")
    enrolment.refresh_from_db()
    # Monday + 2 business days, Wednesday a holiday: Thursday 09:00
    assert enrolment.next_run_at == dt.datetime(2025, 6, 5, 9, 0, tzinfo=dt.UTC)
    assert _tick(dt.datetime(2025, 6, 5, 8, 59, tzinfo=dt.UTC)) == 0
    assert _tick(dt.datetime(2025, 6, 5, 9, 0, tzinfo=dt.UTC)) == 2  # the call, the message
    tasks = list(
        SalesTask.objects.order_by("id").values_list("owner_id", "kind", "title", "due_on")
    )
    assert tasks == [
        (
            rep.pk,
            "call",
            "Call north sales_rep customer: ask about the harvest",
            dt.date(2025, 6, 5),
        ),
        (rep.pk, "linkedin", "Message north sales_rep customer on LinkedIn", dt.date(2025, 6, 5)),
    ]
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.COMPLETED
    assert len(inbox.messages) == 1


def test_a_business_day_wait_from_friday_skips_the_weekend(world: World, inbox: SmtpInbox) -> None:
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    short = sequences.sequence_create(
        actor=Actor(user=rep),
        name="Short",
        steps=[{"kind": "wait", "wait_days": 1}, {"kind": "call", "body": "hi"}],
    )
    with time_machine.travel(FRIDAY, tick=False):
        (enrolment,) = sequences.sequence_enrol(
            actor=Actor(user=rep), sequence=short, contact_ids=[contact.pk]
        )
    _tick(FRIDAY)
    enrolment.refresh_from_db()
    assert enrolment.next_run_at == dt.datetime(2025, 6, 9, 9, 0, tzinfo=dt.UTC)  # Monday
    assert _tick(dt.datetime(2025, 6, 8, 9, 0, tzinfo=dt.UTC)) == 0  # not on Sunday
    assert _tick(dt.datetime(2025, 6, 9, 9, 0, tzinfo=dt.UTC)) == 1
    assert SalesTask.objects.get().due_on == dt.date(2025, 6, 9)


def test_stopping_for_a_contact_ends_every_sequence_enrolment_before_later_steps(
    world: World, cadence: Sequence, inbox: SmtpInbox
) -> None:
    rep = Actor(user=world.user("sales_rep"))
    contact = world.contacts[("sales_rep", "north")]
    other = sequences.sequence_create(actor=rep, name="Other", steps=STEPS)
    with time_machine.travel(MONDAY, tick=False):
        for sequence in (cadence, other):
            sequences.sequence_enrol(actor=rep, sequence=sequence, contact_ids=[contact.pk])
    _tick(MONDAY)
    manual = Enrolment.objects.get(flow=cadence.flow)
    assert sequences.enrolment_stop(actor=rep, enrolment=manual) == 1
    with pytest.raises(InvalidInput):
        sequence_stop_for_contact(contact.pk, "bored")
    assert sequence_stop_for_contact(contact.pk, "replied") == 1
    assert sequence_stop_for_contact(contact.pk, "replied") == 0
    _tick(MONDAY + dt.timedelta(days=10))
    assert sorted(Enrolment.objects.values_list("status", "exit_reason")) == [
        ("exited", "stopped by a rep"),
        ("exited", "stopped: replied"),
    ]
    assert SalesTask.objects.count() == 0


@pytest.mark.parametrize("kind", ["email_reply", "meeting", "meeting_booked", "consent"])
def test_a_reply_a_meeting_or_withdrawn_consent_stops_the_sequence(
    world: World, cadence: Sequence, inbox: SmtpInbox, kind: str
) -> None:
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    with time_machine.travel(MONDAY, tick=False):
        sequences.sequence_enrol(actor=Actor(user=rep), sequence=cadence, contact_ids=[contact.pk])
    assert _tick(MONDAY) == 2  # the email, then the wait
    later = MONDAY + dt.timedelta(hours=3)
    if kind == "consent":
        consent_record(contact=contact, purpose="newsletter", state="withdrawn")
    else:
        crm.touchpoint_record(
            channel="email", kind=kind, department="sales", contact=contact, occurred_at=later
        )
    _tick(later)
    _tick(MONDAY + dt.timedelta(days=10))
    enrolment = Enrolment.objects.get()
    assert enrolment.status == EnrolmentStatus.EXITED
    if kind != "consent":
        assert enrolment.exit_reason == f"stopped: {kind}"
    assert SalesTask.objects.count() == 0  # the call and LinkedIn steps never ran
    assert len(inbox.messages) == 1


def test_withdrawn_consent_ends_it_at_the_email_and_sends_nothing(
    world: World, cadence: Sequence, inbox: SmtpInbox
) -> None:
    contact = world.contacts[("sales_rep", "north")]
    consent_record(contact=contact, purpose="newsletter", state="withdrawn")
    with time_machine.travel(MONDAY, tick=False):
        sequences.sequence_enrol(
            actor=Actor(user=world.user("sales_rep")), sequence=cadence, contact_ids=[contact.pk]
        )
    _tick(MONDAY)
    enrolment = Enrolment.objects.get()
    # stopped by the signal before the email step ran
    assert (enrolment.status, enrolment.exit_reason) == ("exited", "stopped: consent_withdrawn")
    assert inbox.messages == []


def test_a_signal_from_before_enrolling_does_not_stop_it(
    world: World, cadence: Sequence, inbox: SmtpInbox
) -> None:
    contact = world.contacts[("sales_rep", "north")]
    crm.touchpoint_record(
        channel="meeting",
        kind="meeting",
        department="sales",
        contact=contact,
        occurred_at=MONDAY - dt.timedelta(days=3),
    )
    with time_machine.travel(MONDAY, tick=False):
        sequences.sequence_enrol(
            actor=Actor(user=world.user("sales_rep")), sequence=cadence, contact_ids=[contact.pk]
        )
    _tick(MONDAY)
    assert Enrolment.objects.get().status == "active"


def test_a_contact_may_be_enrolled_again_only_after_leaving(
    world: World, cadence: Sequence, inbox: SmtpInbox
) -> None:
    rep = Actor(user=world.user("sales_rep"))
    contact = world.contacts[("sales_rep", "north")]
    assert len(sequences.sequence_enrol(actor=rep, sequence=cadence, contact_ids=[contact.pk])) == 1
    assert sequences.sequence_enrol(actor=rep, sequence=cadence, contact_ids=[contact.pk]) == []
    sequence_stop_for_contact(contact.pk, "manual")
    again = sequences.sequence_enrol(actor=rep, sequence=cadence, contact_ids=[contact.pk])
    assert [e.contact_id for e in again] == [contact.pk]
    assert Enrolment.objects.filter(contact=contact).count() == 2


def test_an_edit_publishes_a_new_version_and_running_enrolments_keep_theirs(
    world: World, cadence: Sequence, inbox: SmtpInbox
) -> None:
    rep = Actor(user=world.user("sales_rep"))
    north = world.contacts[("sales_rep", "north")]
    with time_machine.travel(MONDAY, tick=False):
        (first,) = sequences.sequence_enrol(actor=rep, sequence=cadence, contact_ids=[north.pk])
    _tick(MONDAY)
    sequences.sequence_steps_update(
        actor=rep,
        sequence=cadence,
        steps=[{"kind": "email", "subject": "New hello", "body": "Shorter."}],
    )
    assert [s.kind for s in cadence.steps.order_by("position")] == ["email"]
    other = crm.contact_create(
        actor=Actor.system(),
        first_name="Olga",
        email="olga@example.com",
        owner_id=rep.user.pk if rep.user else None,
    )
    with time_machine.travel(MONDAY, tick=False):
        (second,) = sequences.sequence_enrol(actor=rep, sequence=cadence, contact_ids=[other.pk])
    _tick(dt.datetime(2025, 6, 4, 9, 0, tzinfo=dt.UTC))  # Wednesday: the first one's wait ends
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.version.number, second.version.number) == (1, 2)
    assert sorted(str(inbox.parsed(i)["Subject"]) for i in range(len(inbox.messages))) == [
        "Hello north",
        "New hello",
    ]
    assert SalesTask.objects.filter(kind="call").count() == 1  # the old version's call
    with pytest.raises(InvalidInput):
        sequences.sequence_steps_update(actor=rep, sequence=cadence, steps=[{"kind": "fax"}])


def test_a_paused_sequence_refuses_enrolments_and_pauses_its_flow(
    world: World, cadence: Sequence
) -> None:
    rep = Actor(user=world.user("sales_rep"))
    contact = world.contacts[("sales_rep", "north")]
    sequences.sequence_set_active(actor=rep, sequence=cadence, active=False)
    cadence.refresh_from_db()
    assert Flow.objects.get(pk=cadence.flow_id).status == FlowStatus.PAUSED
    with pytest.raises(InvalidInput) as paused:
        sequences.sequence_enrol(actor=rep, sequence=cadence, contact_ids=[contact.pk])
    assert list(paused.value.errors) == ["sequence"]
    sequences.sequence_set_active(actor=rep, sequence=cadence, active=True)
    cadence.refresh_from_db()
    assert len(sequences.sequence_enrol(actor=rep, sequence=cadence, contact_ids=[contact.pk])) == 1


def test_a_segment_entry_enrols_in_the_sequence_flow_once(
    world: World, cadence: Sequence, inbox: SmtpInbox
) -> None:
    head = Actor(user=world.user("head"))
    segment = seg.segment_create(actor=Actor.system(), name="Hot", kind="static")
    contact = world.contacts[("sales_rep", "north")]
    with pytest.raises(InvalidInput) as refused:
        reactions.reaction_create(actor=head, segment=segment, kind="sequence", sequence=cadence)
    assert refused.value.code == "use_flow"
    with pytest.raises(InvalidInput):  # a marketer may not send in the rep's name
        reactions.sequence_flow_create(
            actor=Actor(user=world.user("marketer")), segment=segment, sequence=cadence
        )
    trigger = reactions.sequence_flow_create(actor=head, segment=segment, sequence=cadence)
    assert trigger.status == FlowStatus.ACTIVE
    members.members_add(actor=Actor.system(), segment=segment, contact_ids=[contact.pk])
    _tick(MONDAY)
    _tick(MONDAY)
    members.members_remove(actor=Actor.system(), segment=segment, contact_ids=[contact.pk])
    members.members_add(actor=Actor.system(), segment=segment, contact_ids=[contact.pk])
    _tick(MONDAY)
    in_sequence = Enrolment.objects.filter(flow=cadence.flow, contact=contact)
    assert in_sequence.count() == 1  # entered twice, still running the sequence: enrolled once
    assert Enrolment.objects.filter(flow=trigger, status="completed").count() == 2
    assert len(inbox.messages) == 1


def test_rep_cannot_enrol_another_sides_contact(world: World, cadence: Sequence) -> None:
    other = world.contacts[("sales_rep", "south")]
    with pytest.raises(InvalidInput):
        sequences.sequence_enrol(
            actor=Actor(user=world.user("sales_rep")), sequence=cadence, contact_ids=[other.pk]
        )
    assert Enrolment.objects.count() == 0


def test_daily_task_list_and_done(client: Any, world: World, inbox: SmtpInbox) -> None:
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    call_only = sequences.sequence_create(
        actor=Actor(user=rep), name="Call", steps=[{"kind": "call", "body": "intro"}]
    )
    sequences.sequence_enrol(actor=Actor(user=rep), sequence=call_only, contact_ids=[contact.pk])
    runner.run_until_idle()
    task = SalesTask.objects.get()
    client.force_login(world.user("sales_rep", "south"))
    assert "intro" not in client.get(reverse("sales:tasks")).content.decode()
    assert client.post(reverse("sales:task_done", args=[task.pk])).status_code == 404
    client.force_login(rep)
    page = client.get(reverse("sales:tasks"))
    assert "Call north sales_rep customer: intro" in page.content.decode()
    assert client.post(reverse("sales:task_done", args=[task.pk])).status_code == 302
    task.refresh_from_db()
    assert task.done_at is not None
    assert Touchpoint.objects.filter(kind="sales_call", contact=contact).count() == 1
