"""Tandem's database worker: django-tasks' `db_worker` loop, plus what makes failures visible and
recoverable (tandem.core.task_recovery).

Invariants:
- on start, and every half of TASKS_WORKER_STALE_SECONDS while it runs, it releases the tasks of
  workers that died (`tasks_release_stuck`), so a stale run is released even where no scheduler
  runs;
- while it runs, a thread beats for it (`Heartbeat`), also during a long task; a clean stop
  removes its heartbeat; the tasks it runs can ask for its id (`interrupted_work.current_runner`)
  to mark what they claim;
- a run that fails is put back in the queue with backoff while attempts remain
  (`task_retry_after_failure`), so every Tandem task is retried the same way without a decorator
  of its own.
"""

from __future__ import annotations

from django.utils.crypto import get_random_string
from django_tasks import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from tandem.core.interrupted_work import runner_set
from tandem.core.task_recovery import Heartbeat, task_retry_after_failure, tasks_release_stuck


class TandemWorker(Worker):
    def run(self) -> None:
        runner_set(self.worker_id)
        tasks_release_stuck()
        with Heartbeat(self.worker_id, ",".join(self.queue_names), release_stuck=True):
            super().run()

    def run_task(self, db_task_result: DBTaskResult) -> None:
        super().run_task(db_task_result)
        if db_task_result.status == TaskResultStatus.FAILED:
            task_retry_after_failure(task_id=str(db_task_result.pk))


def worker_run(*, queues: list[str], interval: float, burst: bool, max_tasks: int | None) -> None:
    """Run the database worker in this process until stopped (SIGINT/SIGTERM finish the current
    task first; a second signal ends it), or until the queue is empty (`burst`)."""
    worker = TandemWorker(
        queue_names=queues,
        interval=interval,
        batch=burst,
        backend_name="default",
        startup_delay=not burst,
        max_tasks=max_tasks,
        worker_id=get_random_string(32),
        excluded_queue_names=[],
    )
    worker.configure_signals()
    try:
        worker.run()
    finally:
        worker.reset_signals()
