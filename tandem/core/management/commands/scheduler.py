"""`scheduler [--once] [--interval S]`: enqueue the periodic tasks that are due
(`tandem.core.schedule.tick`; several schedulers never double-enqueue) and, with the database
backend, release the tasks of workers that stopped beating (`tasks_release_stuck`)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.commands import TandemCommand, positive_int
from tandem.core.schedule import tick
from tandem.core.task_health import backend_kind
from tandem.core.task_recovery import tasks_release_stuck


class Command(TandemCommand):
    help = gettext_lazy("enqueue periodic tasks when due (safe to run several; see PERIODIC_TASKS)")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help=_("enqueue what is due now, then exit")
        )
        parser.add_argument(
            "--interval",
            type=positive_int,
            default=30,
            help=_("seconds between ticks (default: 30)"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            for name in tick():
                self.say(_("enqueued %(task)s") % {"task": name})
            if backend_kind() == "database":
                for task_id in tasks_release_stuck():
                    message = _("released task %(id)s: its worker stopped")
                    self.say(message % {"id": task_id})
            if options["once"]:
                return
            time.sleep(options["interval"])
