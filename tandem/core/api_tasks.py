"""API operations on background work, for holders of `manage_background_work` (admins).

    GET  /tasks/health             workers, queue depth, oldest queued age, counts, failed tasks
    POST /tasks/{task_id}/retry    queue a failed task to run again now (audited)

Invariants:
- both ask `can(caller, "manage_background_work")` first: anyone else gets 403;
- the retry goes through `task_recovery.task_retry`, the function the page and `tandem tasks
  retry` call; an unknown id is a 404, a task that is not failed a 400.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_tasks_db.models import DBTaskResult
from ninja import Router, Schema, Status
from pydantic import Field

from tandem.core.access import can
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.task_health import task_health_summary
from tandem.core.task_recovery import task_retry

router = Router(tags=["tasks"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


class FailedTaskOut(Schema):
    id: str
    task_path: str
    name: str
    error: str = Field(description="The last line of the traceback, e.g. 'ValueError: ...'.")
    traceback: str
    attempts: int = Field(description="How many times it ran.")
    enqueued_at: dt.datetime
    finished_at: dt.datetime | None


class WorkerOut(Schema):
    worker_id: str
    hostname: str
    pid: int
    started_at: dt.datetime
    seen_at: dt.datetime = Field(description="Its last heartbeat.")
    alive: bool


class TaskHealthOut(Schema):
    backend: str = Field(description="database, immediate or redis.")
    tracked: bool = Field(description="Whether the counts below come from this database.")
    needs_worker: bool
    worker_alive: bool
    last_heartbeat_at: dt.datetime | None
    queue_depth: int = Field(description="Tasks ready to run now.")
    waiting: int = Field(description="Tasks waiting for their time (a retry's delay).")
    running: int
    failed_count: int
    succeeded: int
    oldest_queued_at: dt.datetime | None
    oldest_queued_age_seconds: float | None
    max_attempts: int
    healthy: bool
    recent_failed: list[FailedTaskOut]
    workers: list[WorkerOut]


class RetriedOut(Schema):
    id: str
    status: str


def _admin(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "manage_background_work"):
        raise ApiError(403, "forbidden", _("You may not manage background work."))
    return who


@router.get("/tasks/health", response={200: TaskHealthOut, **ERRORS})
def tasks_health(request: HttpRequest) -> dict[str, Any]:
    """The health of background work, as the admin's page shows it (the 100 latest failures)."""
    _admin(request)
    health = task_health_summary(failed=100)
    return {**health.__dict__, "healthy": health.healthy}


@router.post("/tasks/{task_id}/retry", response={202: RetriedOut, **ERRORS, 413: Error, 415: Error})
def tasks_retry(request: HttpRequest, task_id: uuid.UUID) -> Status[dict[str, str]]:
    """Queue a failed task to run again now (one more run)."""
    who = _admin(request)
    try:
        row = task_retry(actor=who.actor, task_id=str(task_id))
    except DBTaskResult.DoesNotExist:
        raise ApiError(404, "not_found", _("No such task.")) from None
    return Status(202, {"id": str(row.id), "status": str(row.status)})
