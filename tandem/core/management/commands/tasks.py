"""`tasks [list]` and `tasks retry ID`: the health of background work (worker, queue, failed tasks
with their errors; `tandem.core.task_health`) and a retry by hand of a failed task
(`tandem.core.task_recovery.task_retry`, audited as the system)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tasks_db.models import DBTaskResult

from tandem.core.audit import Actor
from tandem.core.commands import TandemCommand, refused
from tandem.core.task_health import TaskHealth, task_health_summary
from tandem.core.task_recovery import task_retry


class Command(TandemCommand):
    help = gettext_lazy("background work: the worker, the queue and failed tasks; retry ID")

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION")
        listed = _("the worker, the queue and the failed tasks (the default)")
        listing = actions.add_parser("list", help=listed, description=listed)
        listing.add_argument(
            "--limit", type=int, default=20, help=_("how many failed tasks (default: 20)")
        )
        retried = _("queue a failed task to run again now")
        retry = actions.add_parser("retry", help=retried, description=retried)
        retry.add_argument("id", help=_("the task's id (tandem tasks)"))

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("action") == "retry":
            try:
                row = task_retry(actor=Actor.system(), task_id=options["id"])
            except DBTaskResult.DoesNotExist:
                raise refused(_("no task with id %(id)s") % {"id": options["id"]}) from None
            self.say(_("Task %(id)s is queued to run again.") % {"id": row.id})
            return
        limit = max(1, min(int(options.get("limit") or 20), 1000))
        self.show(task_health_summary(failed=limit))

    def show(self, health: TaskHealth) -> None:
        if not health.tracked:
            if health.needs_worker:
                message = _("Tasks are kept by the %(backend)s backend; its own tools show them.")
                self.say(message % {"backend": health.backend})
            else:
                self.say(
                    _(
                        "Tasks run inside the request (TASKS_BACKEND=immediate): "
                        "no worker is needed."
                    )
                )
            return
        if health.worker_alive and health.last_heartbeat_at is not None:
            ago = timesince(health.last_heartbeat_at, timezone.now())
            self.say(_("Worker: alive (last heartbeat %(ago)s ago)") % {"ago": ago})
        else:
            self.say(_("Worker: none running (start one with `tandem worker`)"))
        counts = {
            "queued": health.queue_depth,
            "running": health.running,
            "waiting": health.waiting,
            "failed": health.failed_count,
            "succeeded": health.succeeded,
        }
        self.say(
            _(
                "Queued: %(queued)s, running: %(running)s, waiting to retry: %(waiting)s, "
                "failed: %(failed)s, succeeded: %(succeeded)s"
            )
            % counts
        )
        if health.oldest_queued_at is not None:
            ago = timesince(health.oldest_queued_at, timezone.now())
            self.say(_("The oldest queued task has waited %(ago)s.") % {"ago": ago})
        if not health.recent_failed:
            self.say(_("No task has failed."))
            return
        self.say(_("Failed tasks (tandem tasks retry ID runs one again):"))
        for failed in health.recent_failed:
            when = timezone.localtime(failed.finished_at) if failed.finished_at else None
            self.say(
                f"  {failed.id}  {failed.name}  "
                + _("runs: %(runs)s") % {"runs": failed.attempts}
                + (f"  {when:%Y-%m-%d %H:%M}" if when else "")
                + f"  {failed.error}"
            )
