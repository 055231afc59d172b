"""`send ...`: the progress of email sends, and cancelling one.

    send list [--limit N]                  the latest sends with their counts
    send show ID [--follow] [--interval S] one send's progress; --follow prints it again
                                           on every change until nothing is in flight
    send cancel ID                         stop a send after the chunk being delivered

Acts as the operator (the system actor, every send). `list` keeps its tab-separated columns
and the status codes in every language.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from tandem.core.audit import Actor
from tandem.core.commands import TandemCommand, refused
from tandem.core.errors import InvalidInput
from tandem.marketing.email import progress
from tandem.marketing.email.progress import SendProgress
from tandem.marketing.models import EmailSend

MIN_INTERVAL, MAX_INTERVAL = 0.05, 60.0
# A send's status in `show` (in English its code, as `list` prints it in every language).
STATUS_WORDS = {
    "draft": pgettext_lazy("email send status", "draft"),
    "sending": pgettext_lazy("email send status", "sending"),
    "testing": pgettext_lazy("email send status", "testing"),
    "sent": pgettext_lazy("email send status", "sent"),
    "cancelled": pgettext_lazy("email send status", "cancelled"),
}


def send_id(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        message = _("%(value)s is not a send id (a whole number of 1 or more)")
        raise argparse.ArgumentTypeError(message % {"value": repr(value)})
    return int(value)


def _when(p: SendProgress) -> str:
    if p.started_at is None:
        return _("not started")
    return _("started %(when)s UTC") % {"when": f"{p.started_at:%Y-%m-%d %H:%M}"}


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
    if p.status == EmailSend.Status.TESTING and not p.delivering:
        return _("testing (test share sent, waiting for the A/B winner)")
    if p.status == EmailSend.Status.SENDING and not p.delivering:
        return _("sending (nothing left in flight)")
    return str(STATUS_WORDS.get(p.status, p.status))


class Command(TandemCommand):
    help = gettext_lazy("email sends: list, show ID [--follow] (progress), cancel ID")

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listed = _("the latest sends with their counts")
        listing = actions.add_parser("list", help=listed, description=listed)
        listing.add_argument("--limit", type=send_id, default=20, help=_("how many (default: 20)"))
        shown = _("one send's progress")
        show = actions.add_parser("show", help=shown, description=shown)
        show.add_argument("id", type=send_id, help=_("the send's id (tandem send list)"))
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
        cancel = actions.add_parser("cancel", help=cancelled, description=cancelled)
        cancel.add_argument("id", type=send_id, help=_("the send's id (tandem send list)"))

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self.list(options["limit"])
        elif action == "show":
            interval = options["interval"]
            if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
                message = _("--interval must be between %(low)s and %(high)s seconds")
                raise refused(message % {"low": MIN_INTERVAL, "high": f"{MAX_INTERVAL:.0f}"})
            try:
                self.show(options["id"], options["follow"], interval)
            except EmailSend.DoesNotExist:
                raise refused(_("no send with id %(id)s") % {"id": options["id"]}) from None
        else:
            self.cancel(options["id"])

    def list(self, limit: int) -> None:
        rows = progress.sends_recent(limit)
        if not rows:
            self.stdout.write(_("no sends yet"))
        for p in rows:
            started = f"{p.started_at:%Y-%m-%d %H:%M}" if p.started_at else "-"
            sent = pgettext("send list", "%(sent)s/%(total)s sent") % {
                "sent": p.sent,
                "total": p.total,
            }
            self.stdout.write(f"{p.send_id}\t{p.status}\t{sent}\t{started}\t{p.name}")

    def show(self, send: int, follow: bool, interval: float) -> None:
        p = progress.send_progress(send)
        heading = _("send %(id)s %(name)s: %(state)s, %(when)s")
        names = {"id": p.send_id, "name": repr(p.name), "state": _state(p), "when": _when(p)}
        self.say(heading % names)
        self.say(_counts(p))
        if not follow:
            return
        last = _counts(p)
        while p.delivering:
            time.sleep(interval)
            p = progress.send_progress(send)
            line = _counts(p)
            if line != last:
                self.say(line)
                last = line
        self.say(_("send %(id)s: %(state)s") % {"id": p.send_id, "state": _state(p)})

    def cancel(self, send: int) -> None:
        try:
            cancelled = progress.send_cancel(actor=Actor.system(), send_id=send)
        except EmailSend.DoesNotExist:
            raise refused(_("no send with id %(id)s") % {"id": send}) from None
        except InvalidInput as exc:
            raise refused(
                _("send %(id)s: %(error)s") % {"id": send, "error": exc.message}
            ) from None
        done = _("cancelled send %(id)s %(name)s: nothing more is mailed after the chunk in flight")
        self.stdout.write(done % {"id": cancelled.pk, "name": repr(cancelled.name)})
