"""Periodic work: a scheduler that enqueues registered tasks when they fall due.

django-tasks has no scheduler of its own. `settings.PERIODIC_TASKS` maps a name to
(dotted path of a task taking no arguments, interval in seconds). `tick()` enqueues each task
that is due and moves its next run forward.

Invariants:
- a due task is enqueued once per interval however many schedulers tick at the same time: each
  claims the run with a conditional UPDATE (`next_run_at <= now`), and only the one whose UPDATE
  changed the row enqueues;
- the tasks themselves are idempotent (house rule), so a late or repeated run does no harm.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from tandem.core.models import ScheduledRun

logger = logging.getLogger(__name__)


def periodic_tasks() -> dict[str, tuple[str, int]]:
    return cast(dict[str, tuple[str, int]], getattr(settings, "PERIODIC_TASKS", {}))


def tick(now: dt.datetime | None = None) -> list[str]:
    """Enqueue every periodic task that is due; return the names enqueued by this call."""
    now = now or timezone.now()
    enqueued: list[str] = []
    for name, (path, every) in sorted(periodic_tasks().items()):
        ScheduledRun.objects.get_or_create(name=name, defaults={"next_run_at": now})
        claimed = ScheduledRun.objects.filter(name=name, next_run_at__lte=now).update(
            next_run_at=now + dt.timedelta(seconds=every), last_enqueued_at=now
        )
        if not claimed:
            continue
        task: Any = import_string(path)
        task.enqueue()
        enqueued.append(name)
        logger.info("enqueued periodic task %s", name)
    return enqueued
