"""Progress of email sends, counted from their recipients, and cancelling a send.

Used by `tandem send` (and open to pages); sending itself lives in `sending` and `send_batch`.

Invariants:
- progress is read, never stored: one aggregate query over the send's recipients (the
  (send, status, id) index) gives every count, so it is exact at the moment it is read;
- "in flight" is what a run would still deliver now: pending rows (for an A/B test, those of the
  test share) and rows claimed less than `sending.STALE_CLAIM` ago; a send that is sending or
  testing with nothing in flight is finished for now (sent, or waiting for its A/B winner);
- cancelling is one conditional UPDATE (draft, sending, testing or interrupted -> cancelled)
  with its audit entry in the same transaction. The chunk being delivered finishes (its rows
  are claimed); the next claim requires a sending or testing send (`send_batch.claim`), so
  nothing more is mailed; pending rows stay pending, and a cancelled send never starts again
  (`send_start` starts drafts only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.marketing.email.sending import STALE_CLAIM
from tandem.marketing.models import EmailRecipient, EmailSend

R = EmailRecipient.Status
STATES = (R.PENDING, R.CLAIMED, R.SENT, R.SKIPPED, R.FAILED, R.UNKNOWN)  # SendProgress fields
ACTIVE = (EmailSend.Status.SENDING, EmailSend.Status.TESTING)
CANCELLABLE = (EmailSend.Status.DRAFT, *ACTIVE, EmailSend.Status.INTERRUPTED)


@dataclass(frozen=True)
class SendProgress:
    send_id: int
    name: str
    status: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    total: int = 0
    pending: int = 0
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    in_flight: int = 0

    @property
    def handled(self) -> int:
        """Recipients that reached an end state (sent, skipped, failed, interrupted)."""
        return self.sent + self.skipped + self.failed + self.unknown

    @property
    def percent(self) -> int:
        return self.handled * 100 // self.total if self.total else 0

    @property
    def delivering(self) -> bool:
        """Still at work: sending or testing, with something in flight."""
        return self.status in ACTIVE and self.in_flight > 0


def send_progress(send_id: int) -> SendProgress:
    """The send's counts now; EmailSend.DoesNotExist if there is no such send."""
    send = EmailSend.objects.only("name", "status", "started_at", "finished_at").get(pk=send_id)
    fresh = Q(status=R.CLAIMED, claimed_at__gte=timezone.now() - STALE_CLAIM)
    deliverable = Q(status=R.PENDING)
    if send.status == EmailSend.Status.TESTING:
        deliverable &= ~Q(variant="")
    counts = EmailRecipient.objects.filter(send_id=send.pk).aggregate(
        total=Count("pk"),
        **{str(s): Count("pk", filter=Q(status=s)) for s in STATES},
        in_flight=Count("pk", filter=deliverable | fresh),
    )
    return SendProgress(
        send_id=send.pk,
        name=send.name,
        status=send.status,
        started_at=send.started_at,
        finished_at=send.finished_at,
        **{k: int(v or 0) for k, v in counts.items()},
    )


def sends_recent(limit: int = 20) -> list[SendProgress]:
    """The latest sends (newest first) with their counts, in two queries (`in_flight` is not
    counted here: ask `send_progress` for one send)."""
    sends = list(
        EmailSend.objects.order_by("-created_at", "-pk").only(
            "name", "status", "started_at", "finished_at"
        )[:limit]
    )
    per: dict[int, dict[str, int]] = {s.pk: {} for s in sends}
    rows = (
        EmailRecipient.objects.filter(send_id__in=list(per))
        .values_list("send_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for send_id, status, n in rows:
        per[send_id][status] = n
    return [
        SendProgress(
            send_id=s.pk,
            name=s.name,
            status=s.status,
            started_at=s.started_at,
            finished_at=s.finished_at,
            total=sum(per[s.pk].values()),
            **{str(status): per[s.pk].get(status, 0) for status in STATES},
        )
        for s in sends
    ]


@transaction.atomic
def send_cancel(*, actor: Actor, send_id: int) -> EmailSend:
    """Cancel a draft or running send (see the module invariants); InvalidInput if it has
    already finished or was cancelled; EmailSend.DoesNotExist if there is no such send."""
    send = EmailSend.objects.get(pk=send_id)
    now = timezone.now()
    done = EmailSend.objects.filter(pk=send.pk, status__in=CANCELLABLE).update(
        status=EmailSend.Status.CANCELLED, finished_at=now
    )
    if not done:
        send.refresh_from_db(fields=["status"])
        message = _(
            "Only a draft, running or interrupted send can be cancelled; this one is: %(status)s."
        )
        raise InvalidInput({"__all__": [message % {"status": send.get_status_display()}]})
    record_change(
        actor=actor,
        action="update",
        instance=send,
        changes={"status": [send.status, EmailSend.Status.CANCELLED]},
    )
    send.refresh_from_db()
    return send
