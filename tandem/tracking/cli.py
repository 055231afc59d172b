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
`--start` run is recorded as cancelled); Django must be set up by the caller.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput

if TYPE_CHECKING:
    from tandem.tracking.models import ReclassifyRun


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tandem source", description="Event sources.")
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = commands.add_parser("create", help="create a source and print its write key")
    create.add_argument("name")
    create.add_argument("--kind", default="website", choices=["website", "blog", "app", "server"])
    commands.add_parser("list", help="list sources")
    revoke = commands.add_parser("revoke", help="revoke a source's write key")
    revoke.add_argument("name")
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
            state = "revoked" if source.revoked_at else "active"
            print(f"{source.name}\t{source.kind}\t{source.key_prefix}…\t{state}")
        return 0
    found = Source.objects.filter(name=args.name).first()
    if found is None:
        print(f"tandem source: no source named {args.name!r}", file=sys.stderr)
        return 2
    services.source_revoke(actor=Actor.system(), source=found)
    print(f"revoked {found.name}")
    return 0


# --- tandem reclassify -----------------------------------------------------------------------

MIN_INTERVAL, MAX_INTERVAL = 0.05, 60.0


def _reclassify_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tandem reclassify",
        description="Reclassification of past touchpoints under the channel rules in force: "
        "show the latest run's progress, follow it, cancel it, or start one.",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--start",
        action="store_true",
        help="start a run for the rules in force (or take the queued one) and run it here, "
        "printing progress",
    )
    action.add_argument(
        "--cancel", action="store_true", help="cancel the latest run (it stops after its chunk)"
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help="with --start: queue the run for a worker (`tandem worker`) instead",
    )
    parser.add_argument(
        "--follow", action="store_true", help="print progress on every change until the run ends"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between polls when following (default: 1)",
    )
    return parser


def _run_line(run: ReclassifyRun) -> str:
    line = (
        f"reclassification {run.pk} (rules v{run.version}): {run.status}, "
        f"{run.processed} of {run.total} touchpoints checked ({run.percent}%), "
        f"{run.changed} changed"
    )
    if run.is_active and run.cancel_requested:
        line += ", cancelling"
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
            line += " (waiting for a worker: tandem worker)"
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
        return _reclassify_fail(
            f"--interval must be between {MIN_INTERVAL} and {MAX_INTERVAL:.0f} seconds"
        )
    if args.background and not args.start:
        return _reclassify_fail("--background goes with --start")
    if args.start:
        try:
            run = services.reclassify_start(actor=Actor.system(), background=args.background)
        except InvalidInput as exc:
            return _reclassify_fail(exc.message)
        if args.background:
            print(f"queued reclassification {run.pk} (rules v{run.version}) for a worker")
            return _follow_run(run.pk, args.interval) if args.follow else 0
        print(_run_line(run), flush=True)
        try:
            run = run_reclassification(
                run.pk, progress=lambda current: print(_run_line(current), flush=True)
            )
        except Exception as exc:  # recorded on the run as failed
            print(f"tandem reclassify: reclassification {run.pk} failed: {exc}", file=sys.stderr)
            return 1
        if run.is_active:  # a worker took it first: follow that
            return _follow_run(run.pk, args.interval)
        print(_run_line(run))
        return 0
    latest = ReclassifyRun.objects.order_by("-created_at", "-pk").first()
    if latest is None:
        if args.cancel:
            return _reclassify_fail("there is no reclassification to cancel")
        print(
            f"no reclassification has run yet; rules in force: v{latest_version()} "
            "(tandem reclassify --start runs one)"
        )
        return 0
    run = latest
    if args.cancel:
        try:
            run = services.reclassify_cancel(actor=Actor.system(), run=run)
        except InvalidInput:
            return _reclassify_fail(
                f"reclassification {run.pk} has already ended ({run.status}); nothing to cancel"
            )
        if run.is_active:
            print(f"cancelling reclassification {run.pk}: it stops after its current chunk")
        else:
            print(f"cancelled reclassification {run.pk}")
    if args.follow:
        return _follow_run(run.pk, args.interval)
    if not args.cancel:
        print(_run_line(run))
        version = latest_version()
        if version != run.version:
            print(f"rules in force: v{version} (tandem reclassify --start runs them)")
    return 0
