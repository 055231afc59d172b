"""`reclassify`: channel reclassification runs.

    reclassify                  the latest run's progress
    reclassify --follow         ... printed again on every change until the run ends
    reclassify --cancel         stop the latest run (after its current chunk)
    reclassify --start          run for the rules in force here, printing progress
    reclassify --start --background [--follow]   queue it for a worker instead

An interrupted `--start` run is recorded as cancelled; a run that fails exits 1.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from tandem.core.audit import Actor
from tandem.core.commands import TandemCommand, refused
from tandem.core.errors import InvalidInput
from tandem.tracking import services
from tandem.tracking.models import ReclassifyRun
from tandem.tracking.reclassify import latest_version, run_reclassification

MIN_INTERVAL, MAX_INTERVAL = 0.05, 60.0
# A run's status in progress lines (in English its code).
STATUS_WORDS = {
    "queued": pgettext_lazy("reclassification status", "queued"),
    "running": pgettext_lazy("reclassification status", "running"),
    "done": pgettext_lazy("reclassification status", "done"),
    "cancelled": pgettext_lazy("reclassification status", "cancelled"),
    "superseded": pgettext_lazy("reclassification status", "superseded"),
    "failed": pgettext_lazy("reclassification status", "failed"),
}


def run_line(run: ReclassifyRun) -> str:
    line = _(
        "reclassification %(id)s (rules v%(version)s): %(status)s, "
        "%(processed)s of %(total)s touchpoints checked (%(percent)s%%), %(changed)s changed"
    ) % {
        "id": run.pk,
        "version": run.version,
        "status": STATUS_WORDS.get(run.status, run.status),
        "processed": run.processed,
        "total": run.total,
        "percent": run.percent,
        "changed": run.changed,
    }
    if run.is_active and run.cancel_requested:
        line += _(", cancelling")
    if run.error:
        line += f" - {run.error}"
    return line


class Command(TandemCommand):
    help = gettext_lazy(
        "progress of the channel reclassification; --follow, --cancel, or --start one"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.description = _(
            "Reclassification of past touchpoints under the channel rules in force: "
            "show the latest run's progress, follow it, cancel it, or start one."
        )
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--start",
            action="store_true",
            help=_(
                "start a run for the rules in force (or take the queued one) and run it here, "
                "printing progress"
            ),
        )
        action.add_argument(
            "--cancel",
            action="store_true",
            help=_("cancel the latest run (it stops after its chunk)"),
        )
        parser.add_argument(
            "--background",
            action="store_true",
            help=_("with --start: queue the run for a worker (`tandem worker`) instead"),
        )
        parser.add_argument(
            "--follow",
            action="store_true",
            help=_("print progress on every change until the run ends"),
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            metavar="SECONDS",
            help=_("seconds between polls when following (default: 1)"),
        )

    def follow(self, run_id: int, interval: float) -> None:
        last = ""
        while True:
            run = ReclassifyRun.objects.get(pk=run_id)
            line = run_line(run)
            if run.status == ReclassifyRun.Status.QUEUED:
                line += _(" (waiting for a worker: tandem worker)")
            if line != last:
                self.say(line)
                last = line
            if not run.is_active:
                return
            time.sleep(interval)

    def handle(self, *args: Any, **options: Any) -> None:
        interval = options["interval"]
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            message = _("--interval must be between %(low)s and %(high)s seconds")
            raise refused(message % {"low": MIN_INTERVAL, "high": f"{MAX_INTERVAL:.0f}"})
        if options["background"] and not options["start"]:
            raise refused(_("--background goes with --start"))
        if options["start"]:
            self.start(
                background=options["background"], follow=options["follow"], interval=interval
            )
            return
        latest = ReclassifyRun.objects.order_by("-created_at", "-pk").first()
        if latest is None:
            if options["cancel"]:
                raise refused(_("there is no reclassification to cancel"))
            never = _(
                "no reclassification has run yet; rules in force: v%(version)s "
                "(tandem reclassify --start runs one)"
            )
            self.stdout.write(never % {"version": latest_version()})
            return
        run = latest
        if options["cancel"]:
            try:
                run = services.reclassify_cancel(actor=Actor.system(), run=run)
            except InvalidInput:
                ended = _(
                    "reclassification %(id)s has already ended (%(status)s); nothing to cancel"
                )
                status = STATUS_WORDS.get(run.status, run.status)
                raise refused(ended % {"id": run.pk, "status": status}) from None
            if run.is_active:
                stopping = _("cancelling reclassification %(id)s: it stops after its current chunk")
                self.stdout.write(stopping % {"id": run.pk})
            else:
                self.stdout.write(_("cancelled reclassification %(id)s") % {"id": run.pk})
        if options["follow"]:
            self.follow(run.pk, interval)
            return
        if not options["cancel"]:
            self.stdout.write(run_line(run))
            version = latest_version()
            if version != run.version:
                later = _("rules in force: v%(version)s (tandem reclassify --start runs them)")
                self.stdout.write(later % {"version": version})

    def start(self, *, background: bool, follow: bool, interval: float) -> None:
        try:
            run = services.reclassify_start(actor=Actor.system(), background=background)
        except InvalidInput as exc:
            raise refused(exc.message) from None
        if background:
            queued = _("queued reclassification %(id)s (rules v%(version)s) for a worker")
            self.stdout.write(queued % {"id": run.pk, "version": run.version})
            if follow:
                self.follow(run.pk, interval)
            return
        self.say(run_line(run))
        try:
            run = run_reclassification(run.pk, progress=lambda current: self.say(run_line(current)))
        except Exception as exc:  # recorded on the run as failed
            failed = _("reclassification %(id)s failed: %(error)s") % {"id": run.pk, "error": exc}
            raise CommandError(failed, returncode=1) from None
        if run.is_active:  # a worker took it first: follow that
            self.follow(run.pk, interval)
            return
        self.stdout.write(run_line(run))
