"""Sends whose runs were interrupted: the rows a dead run claimed, the "interrupted" state and
resuming.

A run of a send marks every row it claims with its worker's id (`claimed_by`,
`interrupted_work.current_runner`). A worker killed mid-chunk (kill -9, power loss) leaves rows
"claimed": some of them may have been accepted by the SMTP server before it died, so they can
never be sent again.

Invariants:
- at most once: a claim whose worker stopped beating (TASKS_WORKER_STALE_SECONDS) becomes
  "unknown" (`claims_release_dead`), as does any claim older than `STALE_CLAIM` (runs
  outside a worker carry no id); an "unknown" row is never claimed, so never resent. Every run
  of a send does this when it starts and when it ends, and the task of a dead worker is run again
  (tandem.core.task_recovery), so a send whose worker was killed ends by itself with every
  recipient sent, skipped, failed or unknown;
- when the send's task gives up for good (attempts used up), the send becomes "interrupted" with
  the reason (`send_interrupted`), unless a live run still holds rows or nothing is left to send
  (then it is finished: "sent");
- `send_resume` turns an interrupted send back to sending (audited) and queues its runs: they
  send only rows never claimed (pending); claims of dead runs are "unknown" first.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.core.interrupted_work import current_runner, runners_alive
from tandem.marketing.models import EmailRecipient, EmailSend

R = EmailRecipient.Status
ACTIVE = (EmailSend.Status.SENDING, EmailSend.Status.TESTING)
STALE_CLAIM = dt.timedelta(minutes=15)  # a claim this old belongs to a run that is gone


def claims_release_dead(*, send_id: int, now: dt.datetime | None = None) -> int:
    """Claimed -> unknown for the rows of runs that are gone (see the invariants); returns how
    many. Each is one conditional UPDATE (status still claimed)."""
    now = now or timezone.now()
    claimed = EmailRecipient.objects.filter(send_id=send_id, status=R.CLAIMED)
    owners = set(
        claimed.exclude(claimed_by="").values_list("claimed_by", flat=True).distinct().order_by()
    )
    dead = owners - runners_alive(owners, now=now) - {current_runner()}
    released = claimed.filter(claimed_by__in=dead).update(status=R.UNKNOWN) if dead else 0
    released += claimed.filter(claimed_at__lt=now - STALE_CLAIM).update(status=R.UNKNOWN)
    return released


def _deliverable(send: EmailSend) -> Q:
    """Rows a run would still send now (pending; during an A/B test only the test share)."""
    pending = Q(status=R.PENDING)
    if send.status == EmailSend.Status.TESTING:
        pending &= ~Q(variant="")
    return pending


def send_finish_if_done(*, send_id: int, now: dt.datetime | None = None) -> bool:
    """A sending send with nothing pending and no live claim becomes "sent" (one conditional
    UPDATE); True if it did."""
    now = now or timezone.now()
    busy = EmailRecipient.objects.filter(send_id=send_id).filter(
        Q(status=R.PENDING) | Q(status=R.CLAIMED, claimed_at__gte=now - STALE_CLAIM)
    )
    if busy.exists():
        return False
    return bool(
        EmailSend.objects.filter(pk=send_id, status=EmailSend.Status.SENDING).update(
            status=EmailSend.Status.SENT, finished_at=now
        )
    )


@transaction.atomic
def send_interrupted(*, send_id: int, reason: str) -> bool:
    """The send's task gave up: release the claims of dead runs, then finish the send if nothing
    is left, else mark it interrupted with `reason` (audited as the system); True if it became
    interrupted. A send with a live run (rows it claims) is left to that run."""
    send = EmailSend.objects.filter(pk=send_id).first()
    if send is None or send.status not in ACTIVE:
        return False
    claims_release_dead(send_id=send_id)
    rows = EmailRecipient.objects.filter(send_id=send_id)
    if rows.filter(status=R.CLAIMED).exists():
        return False
    if not rows.filter(_deliverable(send)).exists():
        send_finish_if_done(send_id=send_id)
        return False
    moved = EmailSend.objects.filter(pk=send_id, status__in=ACTIVE).update(
        status=EmailSend.Status.INTERRUPTED, interrupted_reason=reason[:500]
    )
    if moved:
        record_change(
            actor=Actor.system(),
            action="update",
            instance=send,
            changes={
                "status": [send.status, EmailSend.Status.INTERRUPTED],
                "interrupted_reason": ["", reason[:500]],
            },
        )
    return bool(moved)


@transaction.atomic
def send_resume(*, actor: Actor, send_id: int) -> EmailSend:
    """Interrupted -> sending (or back to its A/B test), audited, and its runs queued after
    commit: they send only rows never claimed. InvalidInput unless the send is interrupted;
    EmailSend.DoesNotExist if there is no such send."""
    from tandem.marketing.email.sending import is_ab_test
    from tandem.marketing.email.tasks import send_enqueue

    send = EmailSend.objects.get(pk=send_id)
    back = (
        EmailSend.Status.TESTING
        if is_ab_test(send) and not send.ab_winner
        else EmailSend.Status.SENDING
    )
    moved = EmailSend.objects.filter(pk=send.pk, status=EmailSend.Status.INTERRUPTED).update(
        status=back, interrupted_reason="", finished_at=None
    )
    if not moved:
        message = _("Only an interrupted send can be resumed; this one is: %(status)s.")
        raise InvalidInput({"__all__": [message % {"status": send.get_status_display()}]})
    claims_release_dead(send_id=send.pk)
    record_change(
        actor=actor,
        action="update",
        instance=send,
        changes={"status": [EmailSend.Status.INTERRUPTED, back]},
    )
    send_enqueue(send.pk)
    send.refresh_from_db()
    return send
