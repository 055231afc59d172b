"""What a send's page shows beyond `progress.send_progress`: why recipients were skipped or
failed, and what came back from the messages delivered (opens, clicks, bounces, complaints,
unsubscribes).

Invariants:
- read, never stored: a few aggregate queries over the send's recipients, exact when read;
- opens and clicks are people (a recipient's first human open/click, `engagement`), bots never
  count; a bounce is a recipient marked bounced by a DSN; a complaint is a recipient of this
  send whose address was suppressed for a complaint after the send started; an unsubscribe is a
  recipient whose consent for the send's subscription type was withdrawn after the send
  started (from this message or elsewhere: the ledger does not name the message).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q
from django.db.models.functions import Lower

from tandem.marketing.models import EmailRecipient, EmailSend, Suppression
from tandem.tracking.models import ConsentRecord

R = EmailRecipient.Status
# Skip reasons written by `send_batch.eligibility`, in the order the page lists them.
SKIP_REASONS = ("unsubscribed", "suppressed", "no_consent", "frequency_cap")


@dataclass(frozen=True)
class Delivery:
    opens: int = 0
    clicks: int = 0
    bounces: int = 0
    complaints: int = 0
    unsubscribes: int = 0


def reasons(send_id: int) -> dict[str, dict[str, int]]:
    """{"skipped": {reason: n}, "failed": {reason: n}} for a send, in one query; every reason
    in SKIP_REASONS is present (0 when none)."""
    out: dict[str, dict[str, int]] = {"skipped": dict.fromkeys(SKIP_REASONS, 0), "failed": {}}
    rows = (
        EmailRecipient.objects.filter(send_id=send_id, status__in=[R.SKIPPED, R.FAILED])
        .values_list("status", "skip_reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for status, reason, n in rows:
        bucket = out[str(status)]
        bucket[reason or "other"] = bucket.get(reason or "other", 0) + n
    return out


def delivery(send: EmailSend) -> Delivery:
    """Engagement with the messages of a send that has started (see the module invariants)."""
    if send.started_at is None:
        return Delivery()
    sent = EmailRecipient.objects.filter(send_id=send.pk, status=R.SENT)
    counts = sent.aggregate(
        opens=Count("pk", filter=Q(opened_at__isnull=False)),
        clicks=Count("pk", filter=Q(clicked_at__isnull=False)),
        bounces=Count("pk", filter=Q(bounced_at__isnull=False)),
    )
    complained = Suppression.objects.filter(
        reason=Suppression.Reason.COMPLAINT, at__gte=send.started_at
    ).values("email")
    complaints = sent.annotate(lower=Lower("email")).filter(lower__in=complained).count()
    unsubscribes = (
        ConsentRecord.objects.filter(
            purpose=send.subscription_type.key,
            state=ConsentRecord.State.WITHDRAWN,
            at__gte=send.started_at,
            contact_id__in=sent.values("contact_id"),
        )
        .values("contact_id")
        .distinct()
        .count()
    )
    return Delivery(
        **{k: int(v or 0) for k, v in counts.items()},
        complaints=complaints,
        unsubscribes=unsubscribes,
    )
