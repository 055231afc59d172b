"""`tandem source ...` (event sources and their write keys) and `tandem reclassify` (channel
reclassification runs).

    tandem source create NAME [--kind website|blog|app|server]   prints the new write key
    tandem source list
    tandem source revoke NAME

    tandem reclassify                  the latest run's progress
    tandem reclassify --follow         ... printed again on every change until the run ends
    tandem reclassify --cancel         stop the latest run (after its current chunk)
    tandem reclassify --start          run for the rules in force here, printing progress
    tandem reclassify --start --background [--follow]   queue it for a worker instead

Bad arguments give one line on stderr and exit code 2, Ctrl-C exits 130 (an interrupted
`--start` run is recorded as cancelled); Django must be set up by the caller. Both speak the
active language (`tandem.core.cli` chooses it; strings in this app's catalogue); `source list`
keeps its tab-separated columns and the source kinds in every language.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import pgettext, pgettext_lazy

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput

if TYPE_CHECKING:
    from tandem.tracking.models import ReclassifyRun


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tandem source", description=_("Event sources (tracking write keys).")
    )
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    created = _("create a source and print its write key")
    create = commands.add_parser("create", help=created, description=created)
    create.add_argument("name", help=_("the source's name"))
    create.add_argument(
        "--kind",
        default="website",
        choices=["website", "blog", "app", "server"],
        help=_("what sends the events (default: website)"),
    )
    listed = _("list sources")
    commands.add_parser("list", help=listed, description=listed)
    revoked = _("revoke a source's write key")
    revoke = commands.add_parser("revoke", help=revoked, description=revoked)
    revoke.add_argument("name", help=_("the source's name"))
    return parser


def source_main(argv: list[str]) -> int:
    from tandem.tracking import services
    from tandem.tracking.models import Source

    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if args.action == "create":
        try:
            _source, key = services.source_create(
                actor=Actor.system(), name=args.name, kind=args.kind
            )
        except InvalidInput as exc:
            print(f"tandem source: {exc.message}", file=sys.stderr)
            return 2
        print(key)
        return 0
    if args.action == "list":
        for source in Source.objects.order_by("name"):
            state = (
                pgettext("event source", "revoked")
                if source.revoked_at
                else pgettext("event source", "active")
            )
            print(f"{source.name}\t{source.kind}\t{source.key_prefix}…\t{state}")
        return 0
    found = Source.objects.filter(name=args.name).first()
    if found is None:
        message = _("no source named %(name)s") % {"name": repr(args.name)}
        print(f"tandem source: {message}", file=sys.stderr)
        return 2
    services.source_revoke(actor=Actor.system(), source=found)
    print(_("revoked %(name)s") % {"name": found.name})
    return 0


# --- tandem reclassify -----------------------------------------------------------------------

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


def _reclassify_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tandem reclassify",
        description=_(
            "Reclassification of past touchpoints under the channel rules in force: "
            "show the latest run's progress, follow it, cancel it, or start one."
        ),
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
    return parser


def _run_line(run: ReclassifyRun) -> str:
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


def _reclassify_fail(message: str) -> int:
    print(f"tandem reclassify: {message}", file=sys.stderr)
    return 2


def _follow_run(run_id: int, interval: float) -> int:
    from tandem.tracking.models import ReclassifyRun

    last = ""
    while True:
        run = ReclassifyRun.objects.get(pk=run_id)
        line = _run_line(run)
        if run.status == ReclassifyRun.Status.QUEUED:
            line += _(" (waiting for a worker: tandem worker)")
        if line != last:
            print(line, flush=True)
            last = line
        if not run.is_active:
            return 0
        time.sleep(interval)


def reclassify_main(argv: list[str]) -> int:
    try:
        return _reclassify(argv)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _reclassify(argv: list[str]) -> int:
    from tandem.tracking import services
    from tandem.tracking.models import ReclassifyRun
    from tandem.tracking.reclassify import latest_version, run_reclassification

    try:
        args = _reclassify_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if not MIN_INTERVAL <= args.interval <= MAX_INTERVAL:
        message = _("--interval must be between %(low)s and %(high)s seconds")
        return _reclassify_fail(message % {"low": MIN_INTERVAL, "high": f"{MAX_INTERVAL:.0f}"})
    if args.background and not args.start:
        return _reclassify_fail(_("--background goes with --start"))
    if args.start:
        try:
            run = services.reclassify_start(actor=Actor.system(), background=args.background)
        except InvalidInput as exc:
            return _reclassify_fail(exc.message)
        if args.background:
            queued = _("queued reclassification %(id)s (rules v%(version)s) for a worker")
            print(queued % {"id": run.pk, "version": run.version})
            return _follow_run(run.pk, args.interval) if args.follow else 0
        print(_run_line(run), flush=True)
        try:
            run = run_reclassification(
                run.pk, progress=lambda current: print(_run_line(current), flush=True)
            )
        except Exception as exc:  # recorded on the run as failed
            failed = _("reclassification %(id)s failed: %(error)s") % {"id": run.pk, "error": exc}
            print(f"tandem reclassify: {failed}", file=sys.stderr)
            return 1
        if run.is_active:  # a worker took it first: follow that
            return _follow_run(run.pk, args.interval)
        print(_run_line(run))
        return 0
    latest = ReclassifyRun.objects.order_by("-created_at", "-pk").first()
    if latest is None:
        if args.cancel:
            return _reclassify_fail(_("there is no reclassification to cancel"))
        never = _(
            "no reclassification has run yet; rules in force: v%(version)s "
            "(tandem reclassify --start runs one)"
        )
        print(never % {"version": latest_version()})
        return 0
    run = latest
    if args.cancel:
        try:
            run = services.reclassify_cancel(actor=Actor.system(), run=run)
        except InvalidInput:
            ended = _("reclassification %(id)s has already ended (%(status)s); nothing to cancel")
            status = STATUS_WORDS.get(run.status, run.status)
            return _reclassify_fail(ended % {"id": run.pk, "status": status})
        if run.is_active:
            stopping = _("cancelling reclassification %(id)s: it stops after its current chunk")
            print(stopping % {"id": run.pk})
        else:
            print(_("cancelled reclassification %(id)s") % {"id": run.pk})
    if args.follow:
        return _follow_run(run.pk, args.interval)
    if not args.cancel:
        print(_run_line(run))
        version = latest_version()
        if version != run.version:
            later = _("rules in force: v%(version)s (tandem reclassify --start runs them)")
            print(later % {"version": version})
    return 0
