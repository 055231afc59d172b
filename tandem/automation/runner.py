"""The durable runner: due enrolments are claimed, advanced step by step, and their messages
delivered after commit.

A batch is claimed in one transaction: on PostgreSQL with `SELECT … FOR UPDATE SKIP LOCKED`
(two workers take disjoint batches and never wait on each other); on SQLite every write
transaction is IMMEDIATE, so a second worker's batch starts only after the first committed and
reads the moved `next_run_at`. Each enrolment then runs its steps up to the next wait (at most
`CHAIN` in a row), writing one `StepRun` per step and one UPDATE of the enrolment guarded by the
`seq` it read — all in the batch's transaction. A crash before commit undoes the steps and their
effects together; after commit they are done and never run again.

Emails and webhook calls are rows (`FlowMessage`) written with their step. They leave after
commit: `message_deliver` claims one (queued -> sending, a conditional UPDATE), sends it, and
marks it sent. A worker killed between the claim and the mark leaves the row "sending";
`messages_recover` marks it "unknown" once its lease is over — never sent again (at most once,
as email sends do) — and delivers every row still "queued" (a worker killed after the commit
but before the claim): nothing is lost.

Invariants:
- two workers never run the same enrolment's step: the claim (row lock or serialised write
  transaction) and the `seq` guard of the UPDATE (0 rows: the batch rolls back);
- one failing enrolment does not hold the others: the batch is retried one enrolment per
  transaction, and the failing one is retried with backoff, then marked failed with the reason;
- a message is delivered at most once and every queued message is delivered or accounted for.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.utils import timezone

from tandem.automation import graph as g
from tandem.automation.models import (
    Enrolment,
    EnrolmentStatus,
    FlowMessage,
    FlowVersion,
    MessageState,
    StepRun,
)
from tandem.automation.steps import STEPS, Batch, current_batch, email_sender
from tandem.core.errors import InvalidInput
from tandem.core.webhooks import check_url, post, signed_headers
from tandem.crm import services as crm
from tandem.crm.models import ConsentState

log = logging.getLogger(__name__)
CHAIN = 50
MAX_FAILURES = 5
BATCH = 200
MOVE_CHUNK = 500


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=float(os.environ.get("AUTOMATION_SEND_LEASE_SECONDS", "120")))


@lru_cache(maxsize=512)
def version_graph(version_id: int) -> g.Graph:
    """The parsed graph of a published version (immutable, so cached per process)."""
    return g.validate_graph(FlowVersion.objects.values_list("graph", flat=True).get(pk=version_id))


class _Moved(Exception):
    """Another worker moved the enrolment since it was read: roll the batch back."""


@dataclass
class Advanced:
    steps: int = 0
    enrolments: int = 0
    messages: list[int] = field(default_factory=list)
    moves: list[tuple[Enrolment, int]] = field(default_factory=list)
    runs: list[StepRun] = field(default_factory=list)
    queued: list[tuple[StepRun, FlowMessage]] = field(default_factory=list)

    def flush(self) -> None:
        """Write the batch's moves, history rows and messages (in its transaction)."""
        move(self.moves)
        StepRun.objects.bulk_create(self.runs)
        for run, message in self.queued:
            message.step = run
        created = FlowMessage.objects.bulk_create([m for _r, m in self.queued])
        self.messages += [m.pk for m in created]
        self.moves, self.runs, self.queued = [], [], []


def _run_one(e: Enrolment, now: dt.datetime, out: Advanced) -> None:
    graph = version_graph(e.version_id)
    start_seq = e.seq
    for _i in range(CHAIN):
        node = graph.node(e.node)
        result = STEPS[node.kind](e, node, now)
        if result.defer_until is not None:
            e.next_run_at = result.defer_until
            break
        outcome = result.outcome[:200]
        run = StepRun(enrolment=e, seq=e.seq, node=node.id, kind=node.kind, outcome=outcome, at=now)
        out.runs.append(run)
        e.seq += 1
        out.steps += 1
        if result.message is not None:
            m = result.message
            message = FlowMessage(
                contact_id=e.contact_id, kind=m.kind, to=m.to[:500],
                subject=m.subject, body=m.body, created_at=now,
            )  # fmt: skip
            out.queued.append((run, message))
        if result.goal and e.goal_at is None:
            e.goal_at = now
        if result.end:
            e.status, e.exit_reason = EnrolmentStatus.EXITED, result.outcome[:200]
            e.ended_at, e.next_run_at = now, None
            break
        if result.wait_for:
            e.waiting_for, e.waiting_since, e.event_seen = result.wait_for, now, False
            e.next_run_at = now + (result.delay or dt.timedelta(0))
            break
        e.waiting_for, e.waiting_since, e.event_seen = "", None, False
        target = graph.out(node.id).get(result.label) if result.label else None
        if target is None:
            e.status, e.ended_at, e.next_run_at = EnrolmentStatus.COMPLETED, now, None
            break
        e.node = target
        if result.run_at is not None or result.delay:
            e.next_run_at = result.run_at or now + (result.delay or dt.timedelta(0))
            break
    else:
        e.next_run_at = now  # a long chain: the rest in the next round
    out.moves.append((e, start_seq))
    out.enrolments += 1


MOVED = (
    "status", "node", "seq", "next_run_at", "waiting_for", "waiting_since", "event_seen",
    "goal_at", "ended_at", "exit_reason",
)  # fmt: skip
PG_TYPES = {
    "id": "bigint", "old_seq": "integer", "seq": "integer", "next_run_at": "timestamptz",
    "waiting_since": "timestamptz", "goal_at": "timestamptz", "ended_at": "timestamptz",
    "event_seen": "boolean",
}  # fmt: skip


def move_sql(rows: int, vendor: str) -> str:
    """One UPDATE moving `rows` enrolments, each guarded by the seq it was read at."""
    columns = ("id", "old_seq", *MOVED)
    if vendor == "postgresql":
        first = ", ".join(f"%s::{PG_TYPES.get(c, 'text')}" for c in columns)
    else:
        first = ", ".join("%s" for _c in columns)
    plain = "(" + ", ".join("%s" for _c in columns) + ")"
    values = ", ".join([f"({first})", *[plain] * (rows - 1)])
    sets = ", ".join(f"{c} = v.{c}" for c in MOVED)
    if vendor == "postgresql":
        source = f"(VALUES {values}) AS v({', '.join(columns)})"
    else:  # SQLite names VALUES columns column1, column2, ...
        named = ", ".join(f"column{i + 1} AS {c}" for i, c in enumerate(columns))
        source = f"(SELECT {named} FROM (VALUES {values})) AS v"
    # the statement starts with UPDATE: Python's sqlite3 reports rowcount only for such
    return (
        f"UPDATE automation_enrolment SET {sets}, failures = 0 FROM {source} "
        "WHERE automation_enrolment.id = v.id AND automation_enrolment.seq = v.old_seq "
        "AND automation_enrolment.status = 'active'"
    )


def move_params(moves: list[tuple[Enrolment, int]]) -> list[Any]:
    fields = [f for f in Enrolment._meta.concrete_fields if f.name in MOVED]
    fields.sort(key=lambda f: MOVED.index(f.name))
    params: list[Any] = []
    for e, old_seq in moves:
        params += [e.pk, old_seq]
        params += [f.get_db_prep_save(getattr(e, f.attname), connection) for f in fields]
    return params


def move(moves: list[tuple[Enrolment, int]]) -> None:
    """Write the enrolments' new state in one statement per MOVE_CHUNK; _Moved (roll back) if
    any of them was moved by someone else since it was read."""
    for i in range(0, len(moves), MOVE_CHUNK):
        chunk = moves[i : i + MOVE_CHUNK]
        with connection.cursor() as cursor:
            cursor.execute(move_sql(len(chunk), connection.vendor), move_params(chunk))
            if cursor.rowcount != len(chunk):
                raise _Moved(chunk[0][0].pk)


def _claim(now: dt.datetime, limit: int, only: int | None = None) -> list[Enrolment]:
    due = Enrolment.objects.filter(status=EnrolmentStatus.ACTIVE, next_run_at__lte=now)
    if only is not None:
        due = due.filter(pk=only)
    due = due.select_related("contact", "flow").order_by("next_run_at", "id")
    if connection.vendor == "postgresql":
        due = due.select_for_update(skip_locked=True, of=("self",))
    return list(due[:limit])


def _failed(enrolment_id: int, now: dt.datetime, error: Exception) -> None:
    with transaction.atomic():
        e = Enrolment.objects.select_for_update().filter(pk=enrolment_id).first()
        if e is None or e.status != EnrolmentStatus.ACTIVE:
            return
        failures = e.failures + 1
        if failures >= MAX_FAILURES:
            Enrolment.objects.filter(pk=e.pk).update(
                status=EnrolmentStatus.FAILED, failures=failures, ended_at=now,
                next_run_at=None, exit_reason=f"{type(error).__name__}: {error}"[:200],
            )  # fmt: skip
        else:
            Enrolment.objects.filter(pk=e.pk).update(
                failures=failures, next_run_at=now + dt.timedelta(minutes=2**failures)
            )


def advance_batch(*, now: dt.datetime | None = None, limit: int = BATCH) -> Advanced:
    """Claim up to `limit` due enrolments and run their steps; what was done."""
    now = now or timezone.now()
    out = Advanced()
    ids: list[int] = []
    try:
        with transaction.atomic():
            batch = _claim(now, limit)
            ids = [e.pk for e in batch]
            token = current_batch.set(Batch([e.contact_id for e in batch], now))
            try:
                for e in batch:
                    _run_one(e, now, out)
            finally:
                current_batch.reset(token)
            out.flush()
        return out
    except Exception:
        if not ids:
            raise
    out = Advanced()  # one enrolment per transaction: the failing one alone is retried
    for enrolment_id in ids:
        single = Advanced()
        try:
            with transaction.atomic():
                for e in _claim(now, 1, only=enrolment_id):
                    _run_one(e, now, single)
                single.flush()
        except _Moved:
            continue
        except Exception as exc:
            log.exception("flow enrolment %s failed", enrolment_id)
            _failed(enrolment_id, now, exc)
            continue
        out.steps += single.steps
        out.enrolments += single.enrolments
        out.messages += single.messages
    return out


def run_until_idle(
    *,
    now: dt.datetime | None = None,
    limit: int = BATCH,
    deliver: bool = True,
    rounds: int = 10_000,
) -> int:
    """Advance every due enrolment (and deliver the messages); returns the steps run."""
    total = 0
    for _round in range(rounds):
        done = advance_batch(now=now, limit=limit)
        total += done.steps
        if deliver:
            for message_id in done.messages:
                message_deliver(message_id, now=now)
        if not done.enrolments:
            break
    return total


# --- messages -------------------------------------------------------------------------------


def _post(message: FlowMessage, now: dt.datetime) -> str:
    """POST a webhook message as every Tandem webhook is sent (tandem.core.webhooks: Standard
    Webhooks signature with the flow's secret, the URL vetted again and the request sent to the
    vetted address, no redirects); "" on a 2xx answer, else the reason."""
    from tandem.automation.services import flow_webhook_secret

    body = message.body.encode()
    headers = signed_headers(
        secret=flow_webhook_secret(message.step.enrolment.flow),
        event_id=message.pk,
        event_type="flow.step",
        body=body,
        at=now,
        legacy=False,
        msg_id=f"msg_flow_{message.pk}",
    )
    try:
        status = post(check_url(message.to), body, headers)
    except InvalidInput as exc:
        return "; ".join(str(m) for ms in exc.errors.values() for m in ms)[:300]
    except OSError as exc:
        return str(exc)[:300] or type(exc).__name__
    return "" if 200 <= status < 300 else f"HTTP {status}"


def message_deliver(message_id: int, *, now: dt.datetime | None = None) -> bool:
    """Send one queued message; True if this call sent it. Safe to call twice. `now` dates
    the sending (the runner's clock: the demo's history, tests with a moved clock)."""
    now = now or timezone.now()
    claimed = FlowMessage.objects.filter(pk=message_id, state=MessageState.QUEUED).update(
        state=MessageState.SENDING, claimed_at=now
    )
    if not claimed:
        return False
    message = FlowMessage.objects.select_related("contact", "step__enrolment__flow").get(
        pk=message_id
    )
    if message.kind == FlowMessage.Kind.WEBHOOK:
        error = _post(message, now)
        FlowMessage.objects.filter(pk=message_id).update(
            state=MessageState.FAILED if error else MessageState.SENT,
            error=error[:300], sent_at=None if error else now,
        )  # fmt: skip
        return not error
    if message.contact.consent == ConsentState.WITHDRAWN:  # consent again, at the last moment
        FlowMessage.objects.filter(pk=message_id).update(
            state=MessageState.SKIPPED, error="consent withdrawn"
        )
        return False
    enrolment = message.step.enrolment
    sender = email_sender(enrolment, version_graph(enrolment.version_id).node(message.step.node))
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
        reply_to=sender.reply_to or None,
        headers={"X-Tandem-Flow-Message": str(message.pk)},
    )
    try:
        email.send()
    except Exception as exc:  # an SMTP or network failure: recorded, never retried blindly
        log.warning("flow message %s failed: %s", message_id, exc)
        FlowMessage.objects.filter(pk=message_id).update(
            state=MessageState.FAILED, error=str(exc)[:300]
        )
        return False
    with transaction.atomic():
        FlowMessage.objects.filter(pk=message_id).update(state=MessageState.SENT, sent_at=now)
        crm.touchpoint_record(
            occurred_at=now,
            channel="email",
            kind=sender.touchpoint_kind,
            department=sender.department,
            contact=message.contact,
            actor=sender.user,
            content=message.subject,
            properties={"flow_id": enrolment.flow_id, "enrolment_id": enrolment.pk},
            source="tandem.automation",
        )
    return True


def messages_recover(*, now: dt.datetime | None = None, limit: int = 1000) -> tuple[int, int]:
    """Mark messages a lost worker was sending "unknown"; deliver those still queued.
    Returns (marked unknown, delivered)."""
    now = now or timezone.now()
    unknown = FlowMessage.objects.filter(
        state=MessageState.SENDING, claimed_at__lt=now - lease()
    ).update(state=MessageState.UNKNOWN, error="worker lost while sending")
    delivered = 0
    queued = FlowMessage.objects.filter(state=MessageState.QUEUED).order_by("id")
    for message_id in list(queued.values_list("pk", flat=True)[:limit]):
        delivered += message_deliver(message_id)
    return unknown, delivered
