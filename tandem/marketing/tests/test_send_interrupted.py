"""A send whose task gave up: "interrupted" with the reason on its page, Resume sends only the rows
never claimed, claims of a dead worker become "unknown" (never resent); in-process against a
real SMTP server (the runs with real killed workers are in test_send_with_a_killed_worker)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conftest import SmtpInbox, World
from tandem.core.audit import Actor
from tandem.core.interrupted_work import task_gave_up
from tandem.core.models import AuditEntry, Role, WorkerHeartbeat
from tandem.crm import services as crm
from tandem.marketing import consent
from tandem.marketing.email import recovery, send_batch, sending
from tandem.marketing.models import EmailRecipient, EmailSend, SubscriptionType
from tandem.marketing.segments import services as seg

SYSTEM = Actor.system()
R = EmailRecipient.Status
pytestmark = pytest.mark.django_db


def _send(n: int) -> EmailSend:
    news = SubscriptionType.objects.create(key="stops", name="Stops", double_opt_in=False)
    for i in range(n):
        contact = crm.contact_create(actor=SYSTEM, first_name=f"P{i}", email=f"p{i}@example.com")
        consent.subscribe(contact=contact, subscription=news, source="test")
    template = sending.template_save(actor=SYSTEM, name="Hi", subject="Hi", html="<p>Hi</p>")
    everyone = seg.segment_create(
        actor=SYSTEM,
        name="Ours",
        definition={"type": "field", "field": "contact.email", "op": "starts_with", "value": "p"},
    )
    send = sending.send_create(
        actor=SYSTEM,
        name="Launch",
        template=template,
        segment=everyone,
        subscription_type=news,
        from_email="news@news.example",
    )
    sending.send_start(send_id=send.pk)
    return send


def _claimed_by_a_dead_worker(send: EmailSend, n: int) -> list[int]:
    """`n` rows claimed by a worker whose last beat is older than TASKS_WORKER_STALE_SECONDS."""
    old = timezone.now() - dt.timedelta(minutes=5)
    WorkerHeartbeat.objects.create(
        worker_id="dead-worker", hostname="h", pid=1, queues="default", started_at=old, seen_at=old
    )
    rows = send_batch.claim(send=send, testing=False, size=n)
    EmailRecipient.objects.filter(pk__in=[r.pk for r in rows]).update(claimed_by="dead-worker")
    return [r.pk for r in rows]


def test_claims_of_a_dead_worker_become_unknown_and_the_next_run_finishes_the_send(
    smtp_inbox: SmtpInbox,
) -> None:
    send = _send(5)
    dead = _claimed_by_a_dead_worker(send, 2)
    assert sending.send_run(send_id=send.pk) == {"delivered": 3}
    statuses = dict(EmailRecipient.objects.values_list("pk", "status"))
    assert sorted(pk for pk, s in statuses.items() if s == R.UNKNOWN) == sorted(dead)
    assert len(smtp_inbox.messages) == 3  # the dead worker's rows are never resent
    send.refresh_from_db()
    assert send.status == EmailSend.Status.SENT


def test_a_claim_of_a_live_worker_is_left_to_it(smtp_inbox: SmtpInbox) -> None:
    send = _send(3)
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="live", hostname="h", pid=1, queues="default", started_at=now, seen_at=now
    )
    row = send_batch.claim(send=send, testing=False, size=1)[0]
    EmailRecipient.objects.filter(pk=row.pk).update(claimed_by="live")
    sending.send_run(send_id=send.pk)
    assert EmailRecipient.objects.get(pk=row.pk).status == R.CLAIMED
    send.refresh_from_db()
    assert send.status == EmailSend.Status.SENDING  # the live run finishes it


def test_a_send_whose_task_gives_up_is_interrupted_and_resumed_from_its_page(
    smtp_inbox: SmtpInbox, world: World, django_capture_on_commit_callbacks: object
) -> None:
    send = _send(4)
    dead = _claimed_by_a_dead_worker(send, 1)
    task_gave_up(
        task_path="tandem.marketing.email.tasks.send_run",
        args_kwargs={"args": [send.pk], "kwargs": {}},
        reason="WorkerLost: worker dead-worker stopped beating",
    )
    send.refresh_from_db()
    assert send.status == EmailSend.Status.INTERRUPTED
    assert send.interrupted_reason == "WorkerLost: worker dead-worker stopped beating"
    assert EmailRecipient.objects.get(pk=dead[0]).status == R.UNKNOWN

    client = Client()
    client.force_login(world.user(Role.MARKETER))
    url = f"/marketing/email/sends/{send.pk}/"
    page = client.get(url).content.decode()
    assert "Interrupted" in page
    assert "WorkerLost: worker dead-worker stopped beating" in page
    assert f'action="{url}resume"' in page

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        answer = client.post(f"{url}resume")
    assert answer.status_code == 302
    send.refresh_from_db()
    assert send.status == EmailSend.Status.SENDING
    queued = DBTaskResult.objects.filter(task_path="tandem.marketing.email.tasks.send_run")
    assert queued.count() == 2  # EMAIL_SEND_WORKERS runs
    assert AuditEntry.objects.filter(object_id=str(send.pk), action="update").exists()

    sending.send_run(send_id=send.pk)
    assert sorted(m.rcpt_tos[0] for m in smtp_inbox.messages) == sorted(
        EmailRecipient.objects.filter(status=R.SENT).values_list("email", flat=True)
    )
    assert EmailRecipient.objects.filter(status=R.SENT).count() == 3
    again = client.post(f"{url}resume", follow=True).content.decode()
    assert "Only an interrupted send can be resumed" in again


def test_a_send_with_nothing_left_when_its_task_gives_up_is_finished_not_interrupted(
    smtp_inbox: SmtpInbox,
) -> None:
    send = _send(2)
    sending.send_run(send_id=send.pk)
    EmailSend.objects.filter(pk=send.pk).update(status=EmailSend.Status.SENDING)
    assert not recovery.send_interrupted(send_id=send.pk, reason="boom")
    send.refresh_from_db()
    assert send.status == EmailSend.Status.SENT
