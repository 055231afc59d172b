"""`tandem send ...`: the progress of email sends, and cancelling one.

    tandem send list [--limit N]                  the latest sends with their counts
    tandem send show ID [--follow] [--interval S] one send's progress; --follow prints it again
                                                  on every change until nothing is in flight
    tandem send cancel ID                         stop a send after the chunk being delivered

Acts as the operator (the system actor, every send). Bad arguments, an unknown id or a send
that cannot be cancelled give one line on stderr and exit code 2; Ctrl-C exits 130. Django must
be set up by the caller.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput

if TYPE_CHECKING:
    from tandem.marketing.email.progress import SendProgress

MIN_INTERVAL, MAX_INTERVAL = 0.05, 60.0


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a send id (a whole number of 1 or more)"
        )
    return int(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tandem send", description="Email sends: progress and cancelling."
    )
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = commands.add_parser("list", help="the latest sends with their counts")
    listing.add_argument("--limit", type=_positive, default=20, help="how many (default: 20)")
    show = commands.add_parser("show", help="one send's progress")
    show.add_argument("id", type=_positive)
    show.add_argument(
        "--follow",
        action="store_true",
        help="print progress on every change until nothing is left in flight",
    )
    show.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between polls when following (default: 1)",
    )
    cancel = commands.add_parser("cancel", help="cancel a draft or running send")
    cancel.add_argument("id", type=_positive)
    return parser


def _fail(message: str) -> int:
    print(f"tandem send: {message}", file=sys.stderr)
    return 2


def _when(progress: SendProgress) -> str:
    if progress.started_at is None:
        return "not started"
    return f"started {progress.started_at:%Y-%m-%d %H:%M} UTC"


def _counts(p: SendProgress) -> str:
    return (
        f"{p.handled} of {p.total} done ({p.percent}%): {p.sent} sent, {p.skipped} skipped, "
        f"{p.failed} failed, {p.unknown} interrupted; {p.pending} pending, {p.claimed} being sent"
    )


def _state(p: SendProgress) -> str:
    from tandem.marketing.models import EmailSend

    if p.status == EmailSend.Status.TESTING and not p.delivering:
        return "testing (test share sent, waiting for the A/B winner)"
    if p.status == EmailSend.Status.SENDING and not p.delivering:
        return "sending (nothing left in flight)"
    return p.status


def _show(send_id: int, follow: bool, interval: float) -> int:
    from tandem.marketing.email.progress import send_progress

    p = send_progress(send_id)
    print(f"send {p.send_id} {p.name!r}: {_state(p)}, {_when(p)}", flush=True)
    print(_counts(p), flush=True)
    if not follow:
        return 0
    last = _counts(p)
    while p.delivering:
        time.sleep(interval)
        p = send_progress(send_id)
        line = _counts(p)
        if line != last:
            print(line, flush=True)
            last = line
    print(f"send {p.send_id}: {_state(p)}", flush=True)
    return 0


def send_main(argv: list[str]) -> int:
    try:
        return _send(argv)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _send(argv: list[str]) -> int:
    from tandem.marketing.email import progress
    from tandem.marketing.models import EmailSend

    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if args.action == "list":
        rows = progress.sends_recent(args.limit)
        if not rows:
            print("no sends yet")
        for p in rows:
            started = f"{p.started_at:%Y-%m-%d %H:%M}" if p.started_at else "-"
            print(f"{p.send_id}\t{p.status}\t{p.sent}/{p.total} sent\t{started}\t{p.name}")
        return 0
    if args.action == "show":
        if not MIN_INTERVAL <= args.interval <= MAX_INTERVAL:
            return _fail(
                f"--interval must be between {MIN_INTERVAL} and {MAX_INTERVAL:.0f} seconds"
            )
        try:
            return _show(args.id, args.follow, args.interval)
        except EmailSend.DoesNotExist:
            return _fail(f"no send with id {args.id}")
    try:
        send = progress.send_cancel(actor=Actor.system(), send_id=args.id)
    except EmailSend.DoesNotExist:
        return _fail(f"no send with id {args.id}")
    except InvalidInput as exc:
        return _fail(f"send {args.id}: {exc.message}")
    print(
        f"cancelled send {send.pk} {send.name!r}: nothing more is mailed after the chunk in flight"
    )
    return 0
