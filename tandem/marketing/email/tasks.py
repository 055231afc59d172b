"""Background work of email sends: thin wrappers taking ids (see tandem.core.tasks conventions).

A send run claims each recipient with a conditional UPDATE, so running it twice (or after a
crash) mails nobody twice.

Invariants:
- starting a send enqueues `send_run` `EMAIL_SEND_WORKERS` times (setting or environment,
  default 2, at least 1): that many task workers share its chunks;
- when `send_run` gives up for good (its attempts used up), the send becomes "interrupted" with
  the reason (`recovery.send_interrupted`, registered with core below);
- a send's follow-up (the A/B winner choice) is enqueued by exactly one run: the one whose
  conditional UPDATE of `ab_winner_scheduled` changes the row enqueues it when that UPDATE
  commits, before it delivers anything (a process killed between the two leaves the test
  waiting: `ab_choose_winner` can then be enqueued by hand; it is idempotent).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django_tasks import task

from tandem.core.interrupted_work import task_gave_up_register
from tandem.core.tasks import enqueue_on_commit
from tandem.marketing.email import recovery, sending
from tandem.marketing.models import EmailSend


def send_workers() -> int:
    """How many `send_run` tasks one send gets (EMAIL_SEND_WORKERS, default 2)."""
    try:
        return max(1, int(sending.message.setting("EMAIL_SEND_WORKERS", "2")))
    except ValueError:
        return 2


def send_enqueue(send_id: int, workers: int | None = None) -> int:
    """Enqueue `send_run` for a send `workers` times (default `send_workers()`) once the current
    transaction commits; returns how many. Used by the send page and the A/B winner choice."""
    n = workers if workers is not None else send_workers()
    for _ in range(n):
        enqueue_on_commit(send_run, send_id)
    return n


def _schedule_winner(send_id: int) -> bool:
    """Enqueue the A/B winner choice for a testing send, once per send (see module docstring)."""
    with transaction.atomic():
        row = (
            EmailSend.objects.filter(pk=send_id)
            .only("status", "started_at", "ab_wait_minutes")
            .first()
        )
        if row is None or row.status != EmailSend.Status.TESTING or row.started_at is None:
            return False
        claimed = EmailSend.objects.filter(
            pk=send_id, status=EmailSend.Status.TESTING, ab_winner_scheduled=False
        ).update(ab_winner_scheduled=True)
        if not claimed:
            return False
        when = row.started_at + dt.timedelta(minutes=row.ab_wait_minutes)
        transaction.on_commit(lambda: ab_choose_winner.using(run_after=when).enqueue(send_id))
    return True


@task()
def send_run(send_id: int) -> int:
    sending.send_start(send_id=send_id)
    _schedule_winner(send_id)
    return sending.send_run(send_id=send_id).get("delivered", 0)


@task()
def ab_choose_winner(send_id: int) -> str:
    winner = sending.ab_choose_winner(send_id=send_id)
    send_enqueue(send_id)
    return winner


def _send_run_gave_up(args: list[Any], kwargs: dict[str, Any], reason: str) -> None:
    send_id = kwargs.get("send_id", args[0] if args else None)
    if isinstance(send_id, int):
        recovery.send_interrupted(send_id=send_id, reason=reason)


task_gave_up_register(send_run.module_path, _send_run_gave_up)
