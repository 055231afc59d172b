"""Sequences with a controllable clock: business days and holidays, idempotent advancing,
stopping on reply, tasks on the rep's daily list, and emails through a real SMTP server."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from typing import Any

import pytest
import time_machine
from django.urls import reverse

from conftest import SmtpInbox
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import Holiday, User
from tandem.crm import services as crm
from tandem.crm.models import Touchpoint
from tandem.sales import sequences
from tandem.sales.models import Enrolment, SalesTask, SequenceEmail
from tandem.sales.services import sequence_stop_for_contact
from tandem.tracking.consent import consent_record

MONDAY = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def inbox(smtp_inbox: SmtpInbox, settings: Any) -> SmtpInbox:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    return smtp_inbox


@pytest.fixture
def cadence(world):  # type: ignore[no-untyped-def]
    return sequences.sequence_create(
        actor=Actor(user=world.user("sales_rep")),
        name="Outbound",
        steps=[
            {
                "kind": "email",
                "subject": "Hello {first_name}",
                "body": "Dear {first_name},\nwe make tractors. — {rep_name}",
            },
            {"kind": "wait", "wait_days": 2},
            {"kind": "call", "body": "ask about the harvest"},
            {"kind": "linkedin"},
        ],
    )


def test_business_days_skip_weekends_and_holidays(db):
    friday = dt.datetime(2025, 6, 6, 15, 30, tzinfo=dt.UTC)
    assert sequences.add_business_days(friday, 1) == dt.datetime(2025, 6, 9, 15, 30, tzinfo=dt.UTC)
    Holiday.objects.create(date=dt.date(2025, 6, 9), name="Whit Monday")
    assert sequences.add_business_days(friday, 2) == dt.datetime(2025, 6, 11, 15, 30, tzinfo=dt.UTC)
    assert sequences.add_business_days(friday, 0) == friday


def test_cadence_runs_each_step_once_across_business_days(
    world, cadence, inbox, django_capture_on_commit_callbacks
):
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    Holiday.objects.create(date=dt.date(2025, 6, 4), name="Company day")
    with time_machine.travel(MONDAY, tick=False) as clock:
        (enrolment,) = sequences.sequence_enrol(
            actor=Actor(user=rep), sequence=cadence, contact_ids=[contact.pk]
        )
        again = sequences.sequence_enrol(
            actor=Actor(user=rep), sequence=cadence, contact_ids=[contact.pk]
        )
        assert again == []
        with django_capture_on_commit_callbacks(execute=True):
            assert sequences.sequences_advance() == 2  # the email, then the wait
        with django_capture_on_commit_callbacks(execute=True):
            assert sequences.sequences_advance() == 0  # idempotent: nothing is due
        assert len(inbox.messages) == 1
        message = email.message_from_bytes(inbox.contents[0], policy=email.policy.default)
        assert message["To"] == contact.email
        assert message["Subject"] == "Hello north"
        assert message["Reply-To"] == rep.email
        assert "Dear north," in message.get_content()
        assert SequenceEmail.objects.get().state == "sent"
        assert Touchpoint.objects.filter(kind="sequence_email_sent", contact=contact).count() == 1
        enrolment.refresh_from_db()
        # Monday + 2 business days, Wednesday a holiday: Thursday 09:00
        assert enrolment.next_run_at == dt.datetime(2025, 6, 5, 9, 0, tzinfo=dt.UTC)
        clock.move_to(dt.datetime(2025, 6, 5, 8, 59, tzinfo=dt.UTC))
        assert sequences.sequences_advance() == 0
        clock.move_to(dt.datetime(2025, 6, 5, 9, 0, tzinfo=dt.UTC))
        assert sequences.sequences_advance() == 2  # the call task and the LinkedIn task
        assert sequences.enrolment_advance(enrolment.pk) is False  # a second worker gets nothing
        tasks = list(SalesTask.objects.order_by("id").values_list("kind", "title", "due_on"))
        assert tasks == [
            ("call", "Call north sales_rep customer: ask about the harvest", dt.date(2025, 6, 5)),
            ("linkedin", "Message north sales_rep customer on LinkedIn", dt.date(2025, 6, 5)),
        ]
        enrolment.refresh_from_db()
        assert (enrolment.status, enrolment.next_step) == ("finished", 4)
    assert len(inbox.messages) == 1


def test_reply_stops_the_sequence_before_later_steps(world, cadence, inbox):
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    with time_machine.travel(MONDAY, tick=False) as clock:
        sequences.sequence_enrol(actor=Actor(user=rep), sequence=cadence, contact_ids=[contact.pk])
        sequences.sequences_advance()
        assert sequence_stop_for_contact(contact.pk, "replied") == 1
        assert sequence_stop_for_contact(contact.pk, "replied") == 0
        clock.move_to(MONDAY + dt.timedelta(days=10))
        assert sequences.sequences_advance() == 0
    enrolment = Enrolment.objects.get()
    assert (enrolment.status, enrolment.stop_reason) == ("stopped", "replied")
    assert SalesTask.objects.count() == 0
    with pytest.raises(InvalidInput):
        sequence_stop_for_contact(contact.pk, "bored")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("email_reply", "replied"),
        ("meeting", "meeting_booked"),
        ("meeting_booked", "meeting_booked"),
    ],
)
def test_a_reply_or_meeting_on_the_timeline_stops_the_sequence(
    world, cadence, inbox, kind, reason, django_capture_on_commit_callbacks
):
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    with time_machine.travel(MONDAY, tick=False) as clock:
        sequences.sequence_enrol(actor=Actor(user=rep), sequence=cadence, contact_ids=[contact.pk])
        with django_capture_on_commit_callbacks(execute=True):
            assert sequences.sequences_advance() == 2  # the email, then the wait
        clock.move_to(MONDAY + dt.timedelta(hours=3))
        crm.touchpoint_record(channel="sales_email", kind=kind, department="sales", contact=contact)
        clock.move_to(MONDAY + dt.timedelta(days=10))
        assert sequences.sequences_advance() == 0
    enrolment = Enrolment.objects.get()
    assert (enrolment.status, enrolment.stop_reason) == ("stopped", reason)
    assert SalesTask.objects.count() == 0  # the call and LinkedIn steps never ran
    assert len(inbox.messages) == 1


def test_a_signal_from_before_enrolling_does_not_stop_it(world, cadence, inbox):
    contact = world.contacts[("sales_rep", "north")]
    with time_machine.travel(MONDAY - dt.timedelta(days=3), tick=False):
        crm.touchpoint_record(
            channel="meeting", kind="meeting", department="sales", contact=contact
        )
    with time_machine.travel(MONDAY, tick=False):
        sequences.sequence_enrol(
            actor=Actor(user=world.user("sales_rep")), sequence=cadence, contact_ids=[contact.pk]
        )
        sequences.sequences_advance()
    assert Enrolment.objects.get().status == "active"


def test_withdrawn_consent_stops_at_the_email_step(world, cadence, inbox):
    contact = world.contacts[("sales_rep", "north")]
    consent_record(contact=contact, purpose="newsletter", state="withdrawn")
    sequences.sequence_enrol(
        actor=Actor(user=world.user("sales_rep")), sequence=cadence, contact_ids=[contact.pk]
    )
    sequences.sequences_advance()
    enrolment = Enrolment.objects.get()
    assert (enrolment.status, enrolment.stop_reason) == ("stopped", "unsubscribed")
    assert inbox.messages == []


def test_rep_cannot_enrol_another_sides_contact(world, cadence):
    other = world.contacts[("sales_rep", "south")]
    with pytest.raises(InvalidInput):
        sequences.sequence_enrol(
            actor=Actor(user=world.user("sales_rep")), sequence=cadence, contact_ids=[other.pk]
        )
    assert Enrolment.objects.count() == 0


def test_daily_task_list_and_done(client, world, cadence):
    rep = world.user("sales_rep")
    contact = world.contacts[("sales_rep", "north")]
    call_only = sequences.sequence_create(
        actor=Actor(user=rep), name="Call", steps=[{"kind": "call", "body": "intro"}]
    )
    sequences.sequence_enrol(actor=Actor(user=rep), sequence=call_only, contact_ids=[contact.pk])
    sequences.sequences_advance()
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


def test_sequence_form_rejects_bad_steps(client, world):
    client.force_login(world.user("sales_rep"))
    response = client.post(
        reverse("sales:sequence_list"), {"name": "Bad", "steps": "email: no body\nfax: hello"}
    )
    assert response.status_code == 400
    good = client.post(
        reverse("sales:sequence_list"),
        {"name": "Good", "steps": "email: Hi | Text\nwait: 3\ncall: ring"},
    )
    assert good.status_code == 302


def test_only_the_owner_or_a_head_enrols_in_a_sequence(client, world, cadence):
    owner = world.user("sales_rep")
    teammate = User.objects.create_user(
        username="mate_north", password="x", role="sales_rep", team=owner.team
    )
    contact = world.contacts[("sales_rep", "north")]
    with pytest.raises(InvalidInput) as refused:
        sequences.sequence_enrol(
            actor=Actor(user=teammate), sequence=cadence, contact_ids=[contact.pk]
        )
    assert refused.value.code == "forbidden"
    client.force_login(teammate)
    url = reverse("sales:sequence_detail", args=[cadence.pk])
    assert client.get(url).status_code == 200  # a teammate still sees it
    page = client.post(url, {"contact_ids": [contact.pk]})
    assert page.status_code == 403
    assert "only the sequence&#x27;s owner" in page.content.decode()
    assert Enrolment.objects.count() == 0
    head = world.user("head")
    created = sequences.sequence_enrol(
        actor=Actor(user=head), sequence=cadence, contact_ids=[contact.pk]
    )
    assert [e.contact_id for e in created] == [contact.pk]
    client.force_login(owner)
    assert client.post(url, {"contact_ids": [contact.pk]}).status_code == 302
