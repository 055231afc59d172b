"""`tandem send ...`: the progress of email sends, and cancelling one.

    tandem send list [--limit N]                  the latest sends with their counts
    tandem send show ID [--follow] [--interval S] one send's progress; --follow prints it again
                                                  on every change until nothing is in flight
    tandem send cancel ID                         stop a send after the chunk being delivered

Acts as the operator (the system actor, every send). Bad arguments, an unknown id or a send
that cannot be cancelled give one line on stderr and exit code 2; Ctrl-C exits 130. Django must
be set up by the caller. It speaks the active language (`tandem.core.cli` chooses it; strings in
this app's catalogue); `list` keeps its tab-separated columns and the status codes in every
language.
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
    from tandem.marketing.email.progress import SendProgress

MIN_INTERVAL, MAX_INTERVAL = 0.05, 60.0
# A send's status in `show` (in English its code, as `list` prints it in every language).
STATUS_WORDS = {
    "draft": pgettext_lazy("email send status", "draft"),
    "sending": pgettext_lazy("email send status", "sending"),
    "testing": pgettext_lazy("email send status", "testing"),
    "sent": pgettext_lazy("email send status", "sent"),
    "cancelled": pgettext_lazy("email send status", "cancelled"),
}


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        message = _("%(value)s is not a send id (a whole number of 1 or more)")
        raise argparse.ArgumentTypeError(message % {"value": repr(value)})
    return int(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tandem send", description=_("Email sends: progress and cancelling.")
    )
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listed = _("the latest sends with their counts")
    listing = commands.add_parser("list", help=listed, description=listed)
    listing.add_argument("--limit", type=_positive, default=20, help=_("how many (default: 20)"))
    shown = _("one send's progress")
    show = commands.add_parser("show", help=shown, description=shown)
    show.add_argument("id", type=_positive, help=_("the send's id (tandem send list)"))
    show.add_argument(
        "--follow",
        action="store_true",
        help=_("print progress on every change until nothing is left in flight"),
    )
    show.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help=_("seconds between polls when following (default: 1)"),
    )
    cancelled = _("cancel a draft or running send")
    cancel = commands.add_parser("cancel", help=cancelled, description=cancelled)
    cancel.add_argument("id", type=_positive, help=_("the send's id (tandem send list)"))
    return parser


def _fail(message: str) -> int:
    print(f"tandem send: {message}", file=sys.stderr)
    return 2


def _when(progress: SendProgress) -> str:
    if progress.started_at is None:
        return _("not started")
    return _("started %(when)s UTC") % {"when": f"{progress.started_at:%Y-%m-%d %H:%M}"}


def _counts(p: SendProgress) -> str:
    line = _(
        "%(handled)s of %(total)s done (%(percent)s%%): %(sent)s sent, %(skipped)s skipped, "
        "%(failed)s failed, %(unknown)s interrupted; %(pending)s pending, "
        "%(claimed)s being sent"
    )
    return line % {
        "handled": p.handled,
        "total": p.total,
        "percent": p.percent,
        "sent": p.sent,
        "skipped": p.skipped,
        "failed": p.failed,
        "unknown": p.unknown,
        "pending": p.pending,
        "claimed": p.claimed,
    }


def _state(p: SendProgress) -> str:
    from tandem.marketing.models import EmailSend

    if p.status == EmailSend.Status.TESTING and not p.delivering:
        return _("testing (test share sent, waiting for the A/B winner)")
    if p.status == EmailSend.Status.SENDING and not p.delivering:
        return _("sending (nothing left in flight)")
    return str(STATUS_WORDS.get(p.status, p.status))


def _show(send_id: int, follow: bool, interval: float) -> int:
    from tandem.marketing.email.progress import send_progress

    p = send_progress(send_id)
    heading = _("send %(id)s %(name)s: %(state)s, %(when)s")
    names = {"id": p.send_id, "name": repr(p.name), "state": _state(p), "when": _when(p)}
    print(heading % names, flush=True)
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
    print(_("send %(id)s: %(state)s") % {"id": p.send_id, "state": _state(p)}, flush=True)
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
            print(_("no sends yet"))
        for p in rows:
            started = f"{p.started_at:%Y-%m-%d %H:%M}" if p.started_at else "-"
            sent = pgettext("send list", "%(sent)s/%(total)s sent") % {
                "sent": p.sent,
                "total": p.total,
            }
            print(f"{p.send_id}\t{p.status}\t{sent}\t{started}\t{p.name}")
        return 0
    if args.action == "show":
        if not MIN_INTERVAL <= args.interval <= MAX_INTERVAL:
            message = _("--interval must be between %(low)s and %(high)s seconds")
            return _fail(message % {"low": MIN_INTERVAL, "high": f"{MAX_INTERVAL:.0f}"})
        try:
            return _show(args.id, args.follow, args.interval)
        except EmailSend.DoesNotExist:
            return _fail(_("no send with id %(id)s") % {"id": args.id})
    try:
        send = progress.send_cancel(actor=Actor.system(), send_id=args.id)
    except EmailSend.DoesNotExist:
        return _fail(_("no send with id %(id)s") % {"id": args.id})
    except InvalidInput as exc:
        return _fail(_("send %(id)s: %(error)s") % {"id": args.id, "error": exc.message})
    done = _("cancelled send %(id)s %(name)s: nothing more is mailed after the chunk in flight")
    print(done % {"id": send.pk, "name": repr(send.name)})
    return 0
