"""The health of background work, read for the admin: is a worker alive, how deep is the queue,
how old is its oldest task, which tasks failed and why.

`task_health_summary()` is the one read; the admin's home page (the partial
``core/_task_health.html``, context variable ``task_health``), the page /settings/tasks/, the API
(`GET /api/v1/tasks/health`) and `tandem tasks` all show it.

Invariants:
- with the database backend every number comes from the task rows and the workers' heartbeats
  (`WorkerHeartbeat`): a worker is alive while its last beat is younger than
  TASKS_WORKER_STALE_SECONDS;
- "queued" tasks are ready to run now (the queue depth); tasks waiting for their retry time are
  counted apart ("waiting"), so a retry's delay does not look like a stalled worker;
- other backends keep their tasks elsewhere (`immediate` runs them in the request, RQ in Redis):
  `tracked` is False and the counts are zero; `needs_worker` says whether a worker must run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

from tandem.core.models import WorkerHeartbeat

RECENT_FAILED = 20
BACKENDS = {
    "django_tasks_db.DatabaseBackend": "database",
    "django_tasks.backends.immediate.ImmediateBackend": "immediate",
    "django_tasks_rq.RQBackend": "redis",
}


@dataclass(frozen=True)
class FailedTask:
    id: str
    task_path: str
    name: str  # the function's name, e.g. "invitation_send"
    error: str  # the exception's last line, e.g. "ValueError: no such send"
    traceback: str
    attempts: int
    enqueued_at: dt.datetime
    finished_at: dt.datetime | None


@dataclass(frozen=True)
class WorkerSeen:
    worker_id: str
    hostname: str
    pid: int
    started_at: dt.datetime
    seen_at: dt.datetime
    alive: bool


@dataclass(frozen=True)
class TaskHealth:
    backend: str  # database | immediate | redis
    tracked: bool  # the task rows are in the database, so the numbers below mean something
    needs_worker: bool
    worker_alive: bool
    last_heartbeat_at: dt.datetime | None
    queue_depth: int  # ready to run now
    waiting: int  # waiting for their time (a retry's delay, or run_after)
    running: int
    failed_count: int
    succeeded: int
    oldest_queued_at: dt.datetime | None
    oldest_queued_age_seconds: float | None
    max_attempts: int
    recent_failed: list[FailedTask] = field(default_factory=list)
    workers: list[WorkerSeen] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """Nothing for an admin to look at: a worker beats (if one is needed), nothing failed."""
        return (self.worker_alive or not self.needs_worker) and self.failed_count == 0


def backend_kind() -> str:
    config = cast(dict[str, Any], settings.TASKS["default"])
    return BACKENDS.get(str(config["BACKEND"]), "other")


def stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=int(getattr(settings, "TASKS_WORKER_STALE_SECONDS", 60)))


def max_attempts() -> int:
    return max(1, int(getattr(settings, "TASKS_MAX_ATTEMPTS", 5)))


def error_line(traceback: str, exception_class_path: str = "") -> str:
    """The last line of a traceback ("ValueError: boom"), or the exception's class."""
    lines = [line.strip() for line in traceback.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else exception_class_path.rsplit(".", 1)[-1]


def failed_task(row: DBTaskResult) -> FailedTask:
    return FailedTask(
        id=str(row.id),
        task_path=row.task_path,
        name=row.task_path.rsplit(".", 1)[-1],
        error=error_line(row.traceback, row.exception_class_path),
        traceback=row.traceback,
        attempts=len(row.worker_ids or []),
        enqueued_at=row.enqueued_at,
        finished_at=row.finished_at,
    )


def workers_seen(now: dt.datetime | None = None) -> list[WorkerSeen]:
    now = now or timezone.now()
    cutoff = now - stale_after()
    return [
        WorkerSeen(
            worker_id=beat.worker_id,
            hostname=beat.hostname,
            pid=beat.pid,
            started_at=beat.started_at,
            seen_at=beat.seen_at,
            alive=beat.seen_at >= cutoff,
        )
        for beat in WorkerHeartbeat.objects.order_by("-seen_at")[:20]
    ]


def task_health_summary(
    *, now: dt.datetime | None = None, failed: int = RECENT_FAILED
) -> TaskHealth:
    """The health of background work now (three queries with the database backend)."""
    now = now or timezone.now()
    kind = backend_kind()
    workers = workers_seen(now) if kind == "database" else []
    if kind != "database":
        return TaskHealth(
            backend=kind,
            tracked=False,
            needs_worker=kind != "immediate",
            worker_alive=False,
            last_heartbeat_at=None,
            queue_depth=0,
            waiting=0,
            running=0,
            failed_count=0,
            succeeded=0,
            oldest_queued_at=None,
            oldest_queued_age_seconds=None,
            max_attempts=max_attempts(),
        )
    due = Q(run_after=get_date_max()) | Q(run_after__lte=now)
    ready = Q(status=TaskResultStatus.READY)
    counts = DBTaskResult.objects.aggregate(
        queue_depth=Count("id", filter=ready & due),
        waiting=Count("id", filter=ready & ~due),
        running=Count("id", filter=Q(status=TaskResultStatus.RUNNING)),
        failed=Count("id", filter=Q(status=TaskResultStatus.FAILED)),
        succeeded=Count("id", filter=Q(status=TaskResultStatus.SUCCESSFUL)),
        oldest=Min("enqueued_at", filter=ready & due),
    )
    recent = DBTaskResult.objects.failed().order_by("-finished_at", "-enqueued_at")[:failed]
    oldest: dt.datetime | None = counts["oldest"]
    return TaskHealth(
        backend=kind,
        tracked=True,
        needs_worker=True,
        worker_alive=any(worker.alive for worker in workers),
        last_heartbeat_at=workers[0].seen_at if workers else None,
        queue_depth=counts["queue_depth"],
        waiting=counts["waiting"],
        running=counts["running"],
        failed_count=counts["failed"],
        succeeded=counts["succeeded"],
        oldest_queued_at=oldest,
        oldest_queued_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else None,
        max_attempts=max_attempts(),
        recent_failed=[failed_task(row) for row in recent],
        workers=workers,
    )
