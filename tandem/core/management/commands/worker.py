"""`worker [--queue NAME] [--max-tasks N] [--burst] [--interval S]`: run background tasks with
the backend TASKS_BACKEND chooses: Tandem's database worker (tandem.core.task_worker: heartbeats,
retries with backoff, release of a dead worker's tasks), or an RQ worker on Redis.
The tasks run in the server's language (LANGUAGE_CODE), whatever the operator's locale."""

from __future__ import annotations

import logging
from typing import Any, cast

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandParser
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.commands import TandemCommand, positive_int, refused
from tandem.core.task_worker import worker_run


def _log_to(stream: Any, verbosity: int) -> None:
    """The worker's progress on stdout (django-tasks' and Tandem's recovery), as db_worker does."""
    level = {0: logging.CRITICAL, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    for name in ("django_tasks", "django_tasks_db", "tandem.core.task_recovery"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not logger.hasHandlers():
            logger.addHandler(logging.StreamHandler(stream))


class Command(TandemCommand):
    help = gettext_lazy("run background tasks (database worker, or RQ with TASKS_BACKEND=redis)")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-tasks",
            type=positive_int,
            default=None,
            metavar="N",
            help=_("exit after running N tasks"),
        )
        parser.add_argument(
            "--queue",
            action="append",
            default=None,
            metavar="NAME",
            help=_("a queue to work on (repeatable; default: default)"),
        )
        parser.add_argument(
            "--burst", action="store_true", help=_("run what is queued now, then exit")
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help=_("seconds between polls when idle (database backend; default: 1)"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = cast(dict[str, Any], settings.TASKS["default"])
        backend = config["BACKEND"]
        known = list(config.get("QUEUES", ["default"]))
        queues = [q.strip() for item in (options["queue"] or ["default"]) for q in item.split(",")]
        unknown = [q for q in queues if q not in known]
        if unknown:
            message = _("unknown queue %(unknown)s; queues: %(known)s")
            raise refused(message % {"unknown": ", ".join(unknown), "known": ", ".join(known)})
        if not 0 <= options["interval"] <= 3600:
            raise refused(_("--interval must be between 0 and 3600 seconds"))
        if backend == "django_tasks_db.DatabaseBackend":
            _log_to(self.stdout, options["verbosity"])
            with translation.override(settings.LANGUAGE_CODE):
                worker_run(
                    queues=queues,
                    interval=options["interval"],
                    burst=options["burst"],
                    max_tasks=options["max_tasks"],
                )
            return
        if backend == "django_tasks_rq.RQBackend":
            with translation.override(settings.LANGUAGE_CODE):
                call_command(
                    "rqworker",
                    *queues,
                    job_class="django_tasks_rq.Job",
                    burst=options["burst"],
                    max_jobs=options["max_tasks"],
                    with_scheduler=True,
                )
            return
        message = _("TASKS_BACKEND runs tasks with %(backend)s, which needs no worker")
        raise refused(message % {"backend": backend})
