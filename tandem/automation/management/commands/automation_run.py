"""`automation_run [--once] [--interval S] [--batch N]`: the automation runner as a process of
its own — read triggers, advance due enrolments, deliver their messages, recover the messages
of a lost worker. Safe to run several at once (see `tandem.automation.runner`); the periodic
task `automation_tick` does the same from the task worker."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.automation import runner, triggers
from tandem.core.commands import TandemCommand, positive_int


class Command(TandemCommand):
    help = gettext_lazy("run automation flows: enrol, advance due steps, deliver messages")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help=_("run what is due, then exit"))
        parser.add_argument(
            "--interval", type=float, default=5.0, help=_("seconds between idle rounds")
        )
        parser.add_argument(
            "--batch", type=positive_int, default=runner.BATCH, help=_("enrolments per claim")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        last_recover = 0.0
        while True:
            triggers.dispatch_all()
            done = runner.advance_batch(limit=options["batch"])
            for message_id in done.messages:
                runner.message_deliver(message_id)
            if time.monotonic() - last_recover > options["interval"] or not done.enrolments:
                runner.messages_recover()
                last_recover = time.monotonic()
            if done.steps:
                self.say(_("%(n)d steps") % {"n": done.steps})
            if options["once"] and not done.enrolments:
                return
            if not done.enrolments:
                time.sleep(options["interval"])
