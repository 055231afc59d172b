"""Send progress and cancelling (`tandem.marketing.email.progress`), and `tandem send` through the
real console script against a migrated SQLite file."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from conftest import SmtpInbox, smtp_server
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.core.tests import test_cli as harness
from tandem.crm import services as crm
from tandem.marketing import consent
from tandem.marketing.email import progress, send_batch, sending
from tandem.marketing.models import EmailRecipient, EmailSend, SubscriptionType
from tandem.marketing.segments import services as seg

SYSTEM = Actor.system()
TANDEM, shell, tandem = harness.TANDEM, harness.shell, harness.tandem
migrated_db, env = harness.migrated_db, harness.env  # the console-script fixtures


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpInbox]:
    settings.TANDEM_BASE_URL = "https://tandem.example"
    with smtp_server(SmtpInbox(), settings) as inbox:
        yield inbox


def _send(n: int) -> EmailSend:
    newsletter = SubscriptionType.objects.create(
        key="cli-news", name="CLI news", double_opt_in=False
    )
    for i in range(n):
        contact = crm.contact_create(actor=SYSTEM, first_name=f"P{i}", email=f"p{i}@example.com")
        consent.subscribe(contact=contact, subscription=newsletter, source="test")
    template = sending.template_save(actor=SYSTEM, name="Hello", subject="Hi", html="<p>Hi</p>")
    everyone = seg.segment_create(
        actor=SYSTEM,
        name="All",
        definition={"type": "field", "field": "contact.email", "op": "is_not_empty"},
    )
    return sending.send_create(
        actor=SYSTEM,
        name="Launch",
        template=template,
        segment=everyone,
        subscription_type=newsletter,
        from_email="news@news.example",
    )


@pytest.mark.django_db
def test_cancel_stops_a_send_after_the_chunk_in_flight(smtp: SmtpInbox) -> None:
    send = _send(5)
    before = progress.send_progress(send.pk)
    assert (before.status, before.total, before.delivering) == ("draft", 0, False)

    def cancel_after_the_first_message(_n: int) -> None:
        if progress.send_progress(send.pk).status != EmailSend.Status.CANCELLED:
            progress.send_cancel(actor=SYSTEM, send_id=send.pk)

    assert sending.send_start(send_id=send.pk)
    running = EmailSend.objects.get(pk=send.pk)
    assert progress.send_progress(send.pk).in_flight == 5
    send_batch.deliver(send=running, chunk=2, after_each=cancel_after_the_first_message)
    assert len(smtp.messages) == 2  # the claimed chunk finished; nothing after it
    after = progress.send_progress(send.pk)
    assert (after.status, after.total, after.sent, after.pending) == ("cancelled", 5, 2, 3)
    assert (after.handled, after.percent, after.delivering) == (2, 40, False)
    assert AuditEntry.objects.filter(
        model="marketing.EmailSend", object_id=str(send.pk), action="update"
    ).exists()
    sending.send_run(send_id=send.pk)  # a later run (a queued task) mails nobody
    assert len(smtp.messages) == 2
    with pytest.raises(InvalidInput, match="this one is: Cancelled"):
        progress.send_cancel(actor=SYSTEM, send_id=send.pk)
    with pytest.raises(EmailSend.DoesNotExist):
        progress.send_cancel(actor=SYSTEM, send_id=send.pk + 1)
    [listed] = progress.sends_recent()
    assert (listed.send_id, listed.sent, listed.pending, listed.total) == (send.pk, 2, 3, 5)


@pytest.mark.django_db
def test_an_ab_test_is_in_flight_only_while_its_test_share_is_out() -> None:
    send = _send(0)
    contacts = [
        crm.contact_create(actor=SYSTEM, first_name=f"Q{i}", email=f"q{i}@example.com")
        for i in range(3)
    ]
    EmailSend.objects.filter(pk=send.pk).update(status=EmailSend.Status.TESTING)
    rows = [
        EmailRecipient.objects.create(send=send, contact=c, email=c.email, variant=v)
        for c, v in zip(contacts, ["a", "b", ""], strict=True)
    ]
    now = progress.send_progress(send.pk)
    assert (now.in_flight, now.pending, now.delivering) == (2, 3, True)
    EmailRecipient.objects.filter(pk__in=[rows[0].pk, rows[1].pk]).update(status="sent")
    now = progress.send_progress(send.pk)
    assert (now.in_flight, now.pending, now.sent, now.delivering) == (0, 1, 2, False)
    EmailRecipient.objects.filter(pk=rows[2].pk).update(status="claimed", claimed_at=timezone.now())
    assert progress.send_progress(send.pk).in_flight == 1  # being sent right now
    EmailRecipient.objects.filter(pk=rows[2].pk).update(
        claimed_at=timezone.now() - sending.STALE_CLAIM - dt.timedelta(seconds=1)
    )
    assert progress.send_progress(send.pk).in_flight == 0  # a dead claim is not in flight


# --- tandem send, the console script --------------------------------------------------------

SETUP = """
import datetime as dt
from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.marketing.models import *
system = Actor.system()
kind = SubscriptionType.objects.create(key="cli-news", name="CLI news")
template = EmailTemplate.objects.create(name="T", subject="Hi", html="<p>Hi</p>")
segment = Segment.objects.create(name="All")
send = EmailSend.objects.create(
    name="November news", template=template, segment=segment, subscription_type=kind,
    from_email="news@example.com", status="sending",
    started_at=dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.timezone.utc),
)
for i, status in enumerate(["sent", "sent", "sent", "skipped", "pending", "pending"]):
    contact = crm.contact_create(actor=system, first_name=f"P{i}", email=f"p{i}@example.com")
    EmailRecipient.objects.create(send=send, contact=contact, email=contact.email, status=status)
print(send.pk)
"""
DELIVER_ONE = (
    "from tandem.marketing.models import EmailRecipient as R; "
    "R.objects.filter(pk=R.objects.filter(status='pending').order_by('pk')[0].pk)"
    ".update(status='sent')"
)


def _follow(send_id: str, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [TANDEM, "send", "show", send_id, "--follow", "--interval", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith(f"send {send_id} 'November news': sending")
    assert process.stdout.readline().startswith("4 of 6 done")
    return process


@pytest.mark.slow
def test_list_show_follow_and_cancel(env: dict[str, str]) -> None:
    assert tandem("send", "list", env=env).stdout == "no sends yet\n"
    pk = shell(SETUP, env)
    listed = tandem("send", "list", env=env)
    assert listed.returncode == 0
    assert listed.stdout == f"{pk}\tsending\t3/6 sent\t2026-11-27 09:30\tNovember news\n"
    shown = tandem("send", "show", pk, env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        f"send {pk} 'November news': sending, started 2026-11-27 09:30 UTC",
        "4 of 6 done (66%): 3 sent, 1 skipped, 0 failed, 0 interrupted; 2 pending, 0 being sent",
    ]
    follower = _follow(pk, env)
    shell(DELIVER_ONE, env)
    cancel = tandem("send", "cancel", pk, env=env)
    assert cancel.returncode == 0, cancel.stderr
    assert cancel.stdout.startswith(f"cancelled send {pk} 'November news'")
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    lines = out.splitlines()
    assert "5 of 6 done (83%): 4 sent, 1 skipped, 0 failed, 0 interrupted; 1 pending" in out
    assert lines[-1] == f"send {pk}: cancelled"
    again = tandem("send", "cancel", pk, env=env)
    assert again.returncode == 2
    assert again.stderr == (
        f"tandem send: send {pk}: Only a draft, running or interrupted send can be "
        "cancelled; this one is: Cancelled.\n"
    )


@pytest.mark.slow
def test_follow_ends_when_nothing_is_in_flight_and_ctrl_c_exits_130(env: dict[str, str]) -> None:
    pk = shell(SETUP, env)
    follower = _follow(pk, env)
    follower.send_signal(signal.SIGINT)
    _out, err = follower.communicate(timeout=30)
    assert follower.returncode == 130
    assert "Traceback" not in err
    follower = _follow(pk, env)
    shell(DELIVER_ONE, env)
    shell(DELIVER_ONE, env)
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert out.splitlines()[-1] == f"send {pk}: sending (nothing left in flight)"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "999"], "tandem send: no send with id 999"),
        (["cancel", "999"], "tandem send: no send with id 999"),
        (["show", "abc"], "argument id: 'abc' is not a send id"),
        (["cancel", "0"], "argument id: '0' is not a send id"),
        (["show", "1", "--interval", "0"], "--interval must be between 0.05 and 60 seconds"),
        (["show"], "the following arguments are required: id"),
        ([], "the following arguments are required: ACTION"),
        (["resend", "1"], "invalid choice: 'resend'"),
    ],
)
def test_bad_arguments_and_unknown_ids_exit_2(
    argv: list[str], message: str, env: dict[str, str]
) -> None:
    done = tandem("send", *argv, env=env)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_help(env: dict[str, str]) -> None:
    for argv in (["--help"], ["show", "--help"]):
        done = tandem("send", *argv, env=env)
        assert done.returncode == 0
        assert done.stdout.startswith("usage: tandem send")
