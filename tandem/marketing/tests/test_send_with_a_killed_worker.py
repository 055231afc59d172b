"""A send whose worker is killed with SIGKILL part-way finishes by itself once another worker
runs: every recipient ends sent, skipped or "unknown" (claimed by the dead run, never resent),
and no address receives a message twice; a send whose task gives up is "interrupted", says why,
and Resume sends only the rows never claimed.

Real processes: `tandem worker` on a SQLite file, mailing a real (slowed-down) SMTP server that
this test runs and that counts what each address received."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.core.tests.real_processes import (
    copy_database,
    env_for,
    kill_hard,
    migrate,
    python,
    rows,
    wait,
    worker,
)

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_leg_only]

PEOPLE = 400


def setup_send(people: int) -> int:
    """In the worker's database: `people` subscribed contacts (one without consent) and a send
    to all of them, started (its runs queued); returns the send's id. Run in another process."""
    from tandem.core.audit import Actor
    from tandem.crm import services as crm
    from tandem.marketing import consent
    from tandem.marketing.email import sending, tasks
    from tandem.marketing.models import SubscriptionType
    from tandem.marketing.segments import services as seg

    system = Actor.system()
    newsletter = SubscriptionType.objects.create(  # no double opt-in: no confirmation emails
        key="launches", name="Launches", double_opt_in=False
    )
    for i in range(people):
        contact = crm.contact_create(actor=system, first_name=f"P{i}", email=f"p{i}@example.com")
        if i != 7:  # one without consent: skipped
            consent.subscribe(contact=contact, subscription=newsletter, source="test")
    template = sending.template_save(
        actor=system, name="Hello", subject="Hi {{ contact.first_name }}", html="<p>Hello</p>"
    )
    everyone = seg.segment_create(
        actor=system,
        name="All",
        definition={"type": "field", "field": "contact.email", "op": "is_not_empty"},
    )
    send = sending.send_create(
        actor=system,
        name="Launch",
        template=template,
        segment=everyone,
        subscription_type=newsletter,
        from_email="news@news.example",
    )
    tasks.send_enqueue(send.pk)
    return send.pk


class SlowInbox:
    """An SMTP server's handler that takes `delay` seconds per message and counts what each
    address received."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: Counter[str] = Counter()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        for rcpt in envelope.rcpt_tos:
            self.received[rcpt] += 1
        return "250 OK"


@pytest.fixture
def slow_smtp() -> Iterator[tuple[SlowInbox, int]]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = SlowInbox(delay=0.02)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrate(tmp_path_factory.mktemp("migrated"))


def _env(var: Path, port: int, **extra: str) -> dict[str, str]:
    return env_for(
        var,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(port),
        SMTP_TLS="0",
        BOUNCE_DOMAIN="bounce.example",
        TANDEM_BASE_URL="https://tandem.example",
        TASKS_WORKER_STALE_SECONDS="3",
        TASKS_RETRY_DELAY_SECONDS="1",
        **extra,
    )


def _statuses(var: Path, send_id: int) -> dict[str, str]:
    found = rows(
        var, "SELECT email, status FROM marketing_emailrecipient WHERE send_id = ?", send_id
    )
    return {str(email): str(status) for email, status in found}


def _send_status(var: Path, send_id: int) -> tuple[str, str]:
    found = rows(
        var, "SELECT status, interrupted_reason FROM marketing_emailsend WHERE id = ?", send_id
    )
    return str(found[0][0]), str(found[0][1])


def _start_and_kill_at_15_percent(
    env: dict[str, str], var: Path, inbox: SlowInbox, tmp_path: Path
) -> int:
    send_id = int(python(env, f"from {__name__} import setup_send; print(setup_send({PEOPLE}))"))
    with worker(env, tmp_path / "worker-1.log") as first:
        wait("15% of the messages", lambda: sum(inbox.received.values()) >= PEOPLE * 15 // 100)
        kill_hard(first)
    statuses = _statuses(var, send_id)
    assert "claimed" in statuses.values()  # the dead run held rows it may have sent
    return send_id


def test_a_send_whose_worker_is_killed_finishes_and_nobody_is_mailed_twice(
    migrated: Path, tmp_path: Path, slow_smtp: tuple[SlowInbox, int]
) -> None:
    inbox, port = slow_smtp
    var = copy_database(migrated, tmp_path)
    env = _env(var, port)
    send_id = _start_and_kill_at_15_percent(env, var, inbox, tmp_path)
    at_kill = sum(inbox.received.values())
    assert at_kill < PEOPLE // 2

    with worker(env, tmp_path / "worker-2.log"):
        wait("the send to finish", lambda: _send_status(var, send_id)[0] == "sent", timeout=60)
    statuses = _statuses(var, send_id)
    counts = Counter(statuses.values())
    assert set(counts) <= {"sent", "skipped", "unknown"}, counts
    assert counts["skipped"] == 1
    assert counts["unknown"] >= 1  # the dead run's claims: never resent
    assert max(inbox.received.values()) == 1  # nobody twice
    sent = {email for email, status in statuses.items() if status == "sent"}
    unknown = {email for email, status in statuses.items() if status == "unknown"}
    assert sent <= set(inbox.received)  # every "sent" row was accepted by the server
    assert set(inbox.received) <= sent | unknown  # and nothing else went out
    assert len(sent) + len(unknown) + 1 == PEOPLE
    # the killed worker's task ran again (or the other run finished the send): none is left
    # running, and the killed worker's claims are all accounted for
    running = rows(var, "SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = ?",
                   "RUNNING")  # fmt: skip
    assert running == [(0,)]


def test_a_send_whose_task_gives_up_is_interrupted_and_resumes_the_rows_never_claimed(
    migrated: Path, tmp_path: Path, slow_smtp: tuple[SlowInbox, int]
) -> None:
    inbox, port = slow_smtp
    var = copy_database(migrated, tmp_path)
    # One attempt per task, one run per send: the killed run's task gives up when released.
    env = _env(var, port, TASKS_MAX_ATTEMPTS="1", EMAIL_SEND_WORKERS="1")
    send_id = _start_and_kill_at_15_percent(env, var, inbox, tmp_path)
    time.sleep(3.2)  # TASKS_WORKER_STALE_SECONDS: the killed worker counts as dead
    with worker(env, tmp_path / "worker-2.log"):
        wait("the send to say it was interrupted",
             lambda: _send_status(var, send_id)[0] == "interrupted")  # fmt: skip
    reason = _send_status(var, send_id)[1]
    assert reason.startswith("WorkerLost: worker ")
    statuses = _statuses(var, send_id)
    assert "claimed" not in statuses.values()  # the dead run's claims are "unknown" now
    before = Counter(statuses.values())
    assert before["pending"] > 0

    resumed = python(
        env,
        "from tandem.core.audit import Actor; "
        "from tandem.marketing.email.recovery import send_resume; "
        f"print(send_resume(actor=Actor.system(), send_id={send_id}).status)",
    )
    assert resumed == "sending"
    with worker(env, tmp_path / "worker-3.log"):
        wait("the resumed send to finish", lambda: _send_status(var, send_id)[0] == "sent")
    after = Counter(_statuses(var, send_id).values())
    assert set(after) <= {"sent", "skipped", "unknown"}, after
    assert after["unknown"] == before["unknown"]  # nothing that might have gone out is resent
    assert after["sent"] == before["sent"] + before["pending"]
    assert max(inbox.received.values()) == 1
    assert sum(inbox.received.values()) <= after["sent"] + after["unknown"]
