"""What long-running jobs need to notice that a run of theirs was interrupted (a worker killed
with SIGKILL, a power loss) and to say so: who is running this code, whether that runner is still
alive, a record-level heartbeat, and a hook called when a task gives up for good.

Used by email sends, imports and reclassification runs (each owns its own recovery: sends mark
the rows a dead run claimed "unknown", imports resume from their last committed chunk,
reclassification from its last chunk).

Invariants:
- `current_runner()` is the id of the Tandem worker running this process's tasks (the id its
  `WorkerHeartbeat` row carries), or "" outside a worker (a web request with the immediate
  backend, a command line run): "" means "liveness unknown", and callers fall back to the age of
  their own heartbeat;
- a runner is alive while its worker's heartbeat is younger than TASKS_WORKER_STALE_SECONDS
  (`runners_alive`), the same rule `task_recovery.tasks_release_stuck` uses to release its tasks;
- `beating(beat, every)` calls `beat()` from a thread of its own every `every` seconds while the
  block runs (a long chunk does not silence it); a killed process stops beating, so a record
  whose heartbeat is older than a threshold belongs to a run that is gone;
- the handlers registered with `task_gave_up_register(task_path, handler)` are called once when
  a task of that path stays FAILED for good (its attempts used up, by an exception or a lost
  worker), with its arguments and the reason; a handler's exception is logged, never raised
  into the worker or the scheduler. A task's module registers its handlers when it is imported,
  and `task_gave_up` loads the task by its path first (as a worker does to run it), so core never
  imports the apps that register them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, connection
from django.utils import timezone
from django.utils.module_loading import import_string

from tandem.core.models import WorkerHeartbeat
from tandem.core.task_health import stale_after

logger = logging.getLogger(__name__)

GaveUpHandler = Callable[[list[Any], dict[str, Any], str], None]
_handlers: dict[str, list[GaveUpHandler]] = {}
_runner = {"id": ""}


def runner_set(worker_id: str) -> None:
    """Record that this process is the Tandem worker `worker_id` (called when it starts)."""
    _runner["id"] = worker_id


def current_runner() -> str:
    """The id of the worker running this process's tasks, or "" outside a worker."""
    return _runner["id"]


def runners_alive(ids: Iterable[str], *, now: dt.datetime | None = None) -> set[str]:
    """The ids among `ids` whose worker beat less than TASKS_WORKER_STALE_SECONDS ago."""
    wanted = {i for i in ids if i}
    if not wanted:
        return set()
    cutoff = (now or timezone.now()) - stale_after()
    return set(
        WorkerHeartbeat.objects.filter(worker_id__in=wanted, seen_at__gte=cutoff).values_list(
            "worker_id", flat=True
        )
    )


@contextmanager
def beating(beat: Callable[[], None], every: float) -> Iterator[None]:
    """Call `beat()` every `every` seconds from another thread while the block runs (a database
    error in a beat is logged; the next beat tries again)."""
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.wait(every):
                try:
                    beat()
                except DatabaseError:
                    logger.warning("a heartbeat was not recorded", exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="tandem-record-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def task_gave_up_register(task_path: str, handler: GaveUpHandler) -> None:
    """Call `handler(args, kwargs, reason)` when a task of `task_path` (its dotted path, e.g.
    "tandem.imports.tasks.import_job_run") stays failed for good."""
    if handler not in _handlers.setdefault(task_path, []):
        _handlers[task_path].append(handler)


def task_gave_up(*, task_path: str, args_kwargs: dict[str, Any] | None, reason: str) -> None:
    """Tell the handlers of `task_path` that one of its tasks gave up (see the invariants)."""
    try:
        import_string(task_path)  # its module registers the handlers
    except ImportError:
        logger.warning("task %s gave up (%s) and cannot be loaded", task_path, reason)
        return
    values = args_kwargs or {}
    args = list(values.get("args") or [])
    kwargs = dict(values.get("kwargs") or {})
    for handler in _handlers.get(task_path, []):
        try:
            handler(args, kwargs, reason)
        except Exception:
            logger.exception("the handler of %s failed for good: %s", task_path, reason)
