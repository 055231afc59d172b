"""A runner killed with SIGKILL in the middle of a run loses no contact and mails nobody twice:
another runner finishes every enrolment, each email leaves at most once (a message the dead
runner was handing to the server is "unknown", never resent), and every step ran once.

Real processes: `tandem manage automation_run` on a SQLite file, mailing a real (slowed-down)
SMTP server that this test runs and that counts what each address received."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tandem.core.tests.real_processes import (
    TANDEM,
    env_for,
    kill_hard,
    migrate,
    python,
    rows,
    wait,
)

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_leg_only]

PEOPLE = 150


def setup_flow(people: int) -> int:
    """In the runner's database: a published two-email flow and `people` contacts enrolled."""
    from tandem.automation import services
    from tandem.automation.graph import linear
    from tandem.automation.models import Policy
    from tandem.core.audit import Actor
    from tandem.crm import services as crm

    system = Actor.system()
    Policy.objects.update_or_create(pk=1, defaults={"quiet_start": 0, "quiet_end": 0})
    graph = linear(
        {"kind": "manual"},
        [
            ("send_email", {"subject": "First", "body": "Hello {first_name}"}),
            ("goal", {}),
            ("send_email", {"subject": "Second", "body": "Again"}),
        ],
    )
    flow = services.flow_create(actor=system, name="Two emails", graph=graph)
    services.flow_publish(actor=system, flow=flow)
    flow.refresh_from_db()
    for i in range(people):
        contact = crm.contact_create(actor=system, first_name=f"P{i}", email=f"p{i}@example.com")
        services.enrol(flow=flow, contact_id=contact.pk, trigger_key="manual")
    return flow.pk


class SlowInbox:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: Counter[tuple[str, str]] = Counter()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        subject = "First" if b"Subject: First" in envelope.content else "Second"
        for rcpt in envelope.rcpt_tos:
            self.received[(rcpt, subject)] += 1
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


@contextmanager
def automation_runner(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [TANDEM, "manage", "automation_run", "--interval", "0.3", "--batch", "40"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_runner_killed_mid_run_loses_nobody_and_sends_no_email_twice(
    tmp_path: Path, slow_smtp: tuple[SlowInbox, int]
) -> None:
    inbox, port = slow_smtp
    var = tmp_path
    migrate(var)
    env = env_for(
        var,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(port),
        SMTP_TLS="0",
        AUTOMATION_SEND_LEASE_SECONDS="2",
    )
    python(env, f"from {__name__} import setup_flow; print(setup_flow({PEOPLE}))")
    total = PEOPLE * 2
    with automation_runner(env, tmp_path / "runner-1.log") as first:
        wait("15% of the emails", lambda: sum(inbox.received.values()) >= total * 15 // 100)
        kill_hard(first)
    at_kill = sum(inbox.received.values())
    assert at_kill < total // 2

    def finished() -> bool:
        open_rows = rows(
            var,
            "SELECT (SELECT count(*) FROM automation_enrolment WHERE status = 'active')"
            " + (SELECT count(*) FROM automation_flowmessage WHERE state IN ('queued','sending'))",
        )
        return open_rows == [(0,)]

    with automation_runner(env, tmp_path / "runner-2.log"):
        wait("every enrolment and message to finish", finished, timeout=120)

    assert rows(var, "SELECT status, count(*) FROM automation_enrolment GROUP BY status") == [
        ("completed", PEOPLE)
    ]
    steps = rows(var, "SELECT enrolment_id, count(*) FROM automation_steprun GROUP BY enrolment_id")
    assert {count for _e, count in steps} == {3}  # every step ran, and once
    states = Counter(
        str(state) for (state,) in rows(var, "SELECT state FROM automation_flowmessage")
    )
    assert set(states) <= {"sent", "unknown"}, states
    assert states["sent"] + states["unknown"] == total  # nothing lost
    assert max(inbox.received.values()) == 1  # nobody got an email twice
    assert states["sent"] <= sum(inbox.received.values()) <= total
