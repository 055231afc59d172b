"""Recovery of background work (the database backend): retries with backoff, a retry by hand,
the workers' heartbeats, and the release of tasks held by a worker that died.

Invariants:
- a task's attempts are its runs: ``len(worker_ids)`` (each claim by a worker appends its id);
- a failed run goes back to the queue after ``retry_delay(attempts)`` (TASKS_RETRY_DELAY_SECONDS,
  doubling per attempt, at most an hour) while attempts < TASKS_MAX_ATTEMPTS; after that the task
  stays FAILED with its last error, for an admin to see and retry by hand (`task_retry`, which
  gives it one more run and is audited in the same transaction);
- a RUNNING task whose worker (the last of its ``worker_ids``) has not beaten for
  TASKS_WORKER_STALE_SECONDS is released (`tasks_release_stuck`): back to the queue while attempts
  remain, else FAILED with the reason; the error fields say which worker was lost;
- a task that stays FAILED for good (attempts used up, by an exception or a lost worker) is
  reported once to the handlers its app registered (`interrupted_work.task_gave_up`), so the job
  it ran can say it was interrupted and why;
- every change of a task's status is one conditional UPDATE on its id, status and the moment of
  its last claim or failure, so two workers, schedulers or admins never both act on one task.
  Tasks are idempotent (tandem.core.tasks), so a run repeated after a lost worker does no harm.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from types import TracebackType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.core.interrupted_work import task_gave_up
from tandem.core.models import AuditEntry, WorkerHeartbeat
from tandem.core.task_health import error_line, max_attempts, stale_after

logger = logging.getLogger(__name__)

MAX_DELAY = dt.timedelta(hours=1)
LOST_WORKER = "tandem.core.task_recovery.WorkerLost"
HEARTBEATS_KEPT = dt.timedelta(days=1)


def retry_delay(attempts: int) -> dt.timedelta:
    """How long a task waits before its next run after `attempts` failed runs (1, 2, ...)."""
    base = int(getattr(settings, "TASKS_RETRY_DELAY_SECONDS", 30))
    seconds = base * 2 ** max(0, min(attempts - 1, 20))
    return min(dt.timedelta(seconds=seconds), MAX_DELAY)


def task_retry_after_failure(*, task_id: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """Put a task whose run just failed back in the queue, later, if it has attempts left.

    Returns when it will run again, or None when it stays failed (attempts used up, or not
    failed any more)."""
    now = now or timezone.now()
    row = (
        DBTaskResult.objects.filter(pk=task_id, status=TaskResultStatus.FAILED)
        .only("id", "worker_ids", "finished_at", "task_path", "args_kwargs", "traceback")
        .first()
    )
    if row is None:
        return None
    attempts = len(row.worker_ids or [])
    if attempts >= max_attempts():
        logger.warning("task %s failed %s times: it stays failed", task_id, attempts)
        task_gave_up(
            task_path=row.task_path, args_kwargs=row.args_kwargs, reason=error_line(row.traceback)
        )
        return None
    run_after = now + retry_delay(attempts)
    moved = DBTaskResult.objects.filter(
        pk=task_id, status=TaskResultStatus.FAILED, finished_at=row.finished_at
    ).update(status=TaskResultStatus.READY, run_after=run_after, finished_at=None)
    if not moved:
        return None
    logger.info("task %s failed (attempt %s): it runs again at %s", task_id, attempts, run_after)
    return run_after


def _task_or_none(task_id: str) -> DBTaskResult | None:
    try:
        key = uuid.UUID(str(task_id).strip())
    except ValueError:
        return None
    return DBTaskResult.objects.filter(pk=key).first()


@transaction.atomic
def task_retry(*, actor: Actor, task_id: str) -> DBTaskResult:
    """Queue a failed task to run again now (one more run), audited.

    Raises `DBTaskResult.DoesNotExist` for an unknown id and `InvalidInput` for a task that is not
    failed (queued, running or done: there is nothing to retry)."""
    row = _task_or_none(task_id)
    if row is None:
        raise DBTaskResult.DoesNotExist(task_id)
    if row.status != TaskResultStatus.FAILED:
        words = {
            TaskResultStatus.READY: _("queued"),
            TaskResultStatus.RUNNING: _("running"),
            TaskResultStatus.SUCCESSFUL: _("done"),
        }
        label = words.get(TaskResultStatus(row.status), str(row.status))
        raise InvalidInput(
            _("Only a failed task can be retried; this one is %(status)s.") % {"status": label},
            code="not_failed",
        )
    moved = DBTaskResult.objects.filter(
        pk=row.pk, status=TaskResultStatus.FAILED, finished_at=row.finished_at
    ).update(status=TaskResultStatus.READY, run_after=get_date_max(), finished_at=None)
    if not moved:
        raise InvalidInput(_("The task changed meanwhile; look again."), code="not_failed")
    record_change(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=row,
        changes={"status": [TaskResultStatus.FAILED, TaskResultStatus.READY]},
    )
    row.refresh_from_db()
    return row


def tasks_release_stuck(*, now: dt.datetime | None = None) -> list[str]:
    """Release the running tasks of workers that stopped beating; returns the ids released.

    Also forgets heartbeats older than a day (a worker long gone)."""
    now = now or timezone.now()
    cutoff = now - stale_after()
    alive = set(
        WorkerHeartbeat.objects.filter(seen_at__gte=cutoff).values_list("worker_id", flat=True)
    )
    released: list[str] = []
    running = DBTaskResult.objects.running().filter(started_at__lt=cutoff)
    for row in running.only("id", "worker_ids", "started_at", "task_path", "args_kwargs"):
        worker = (row.worker_ids or ["?"])[-1]
        if worker in alive:
            continue
        attempts = len(row.worker_ids or [])
        reason = (
            f"WorkerLost: worker {worker} stopped beating while running this task "
            f"(started {row.started_at:%Y-%m-%d %H:%M:%S} UTC; "
            f"released {now:%Y-%m-%d %H:%M:%S} UTC)"
        )
        fields: dict[str, Any] = {"exception_class_path": LOST_WORKER, "traceback": reason}
        gives_up = attempts >= max_attempts()
        if not gives_up:
            fields.update(status=TaskResultStatus.READY, run_after=now + retry_delay(attempts))
        else:
            fields.update(status=TaskResultStatus.FAILED, finished_at=now)
        moved = DBTaskResult.objects.filter(
            pk=row.pk, status=TaskResultStatus.RUNNING, started_at=row.started_at
        ).update(**fields)
        if moved:
            released.append(str(row.pk))
            logger.warning("released task %s of lost worker %s", row.pk, worker)
            if gives_up:
                task_gave_up(task_path=row.task_path, args_kwargs=row.args_kwargs, reason=reason)
    WorkerHeartbeat.objects.filter(seen_at__lt=now - HEARTBEATS_KEPT).delete()
    return released


# --- heartbeats -----------------------------------------------------------------------------


def heartbeat_beat(*, worker_id: str, queues: str = "", now: dt.datetime | None = None) -> None:
    """Record that `worker_id` (this process) is alive now."""
    now = now or timezone.now()
    updated = WorkerHeartbeat.objects.filter(worker_id=worker_id).update(seen_at=now)
    if not updated:
        WorkerHeartbeat.objects.update_or_create(
            worker_id=worker_id,
            defaults={
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "queues": queues[:200],
                "started_at": now,
                "seen_at": now,
            },
        )


class Heartbeat:
    """Beats for a worker from a thread of its own, so a long task does not silence it; a clean
    stop removes the worker's row (a killed worker's row goes stale instead).

        with Heartbeat(worker_id, "default"):
            worker.run()
    """

    def __init__(
        self,
        worker_id: str,
        queues: str = "",
        every: float | None = None,
        *,
        release_stuck: bool = False,
    ) -> None:
        self.worker_id = worker_id
        self.queues = queues
        self.release_stuck = release_stuck  # also release the tasks of dead workers, now and then
        stale = stale_after().total_seconds()
        configured = float(getattr(settings, "TASKS_HEARTBEAT_SECONDS", 5))
        self.every = every if every is not None else max(0.5, min(configured, stale / 4))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tandem-heartbeat", daemon=True)

    @property
    def _release_every(self) -> float:
        """Half the time after which a silent worker counts as dead."""
        return max(self.every, stale_after().total_seconds() / 2)

    def __enter__(self) -> Heartbeat:
        heartbeat_beat(worker_id=self.worker_id, queues=self.queues)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        try:
            WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()
        except DatabaseError:
            logger.exception("could not remove the heartbeat of worker %s", self.worker_id)

    def _run(self) -> None:
        released_at = time.monotonic()
        try:
            while not self._stop.wait(self.every):
                try:
                    heartbeat_beat(worker_id=self.worker_id, queues=self.queues)
                except DatabaseError:  # a busy database: the next beat tries again
                    logger.warning("worker %s: heartbeat not recorded", self.worker_id)
                if self.release_stuck and time.monotonic() - released_at >= self._release_every:
                    released_at = time.monotonic()
                    try:
                        tasks_release_stuck()
                    except DatabaseError:
                        logger.warning("worker %s: stuck tasks not released", self.worker_id)
        finally:
            connection.close()
