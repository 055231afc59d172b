"""Reads that span models: feedback both ways and marketing's side of the service level.

Every function takes the viewing user and reads through `scoped`, so a user only ever counts the
hand-offs and touchpoints they may see.

- `lead_quality`: per campaign, channel or source of the touchpoints a contact had BEFORE its
  hand-off (bots excluded): hand-offs, accepted, rejected, acceptance rate and rejection reasons.
  A hand-off counts once per value it was touched by (multi-touch), never twice for one value.
  An upheld lead-quality dispute counts against the hand-off it is about (a dispute about a
  contact: the contact's latest hand-off before the dispute was opened): the quality rate is
  the accepted hand-offs without such a dispute over the decided ones, so it is at most the
  acceptance rate. Disputes are counted, not shown: their threads stay with their sides.
- `marketing_sla`: MQLs delivered in a month against the target, and the acceptance rate of the
  hand-offs of that month that sales decided on.
- `before_handoff`: everything marketing sent a lead before the hand-off (its timeline up to then).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from tandem.core.access import scoped
from tandem.core.models import Department, User
from tandem.crm.models import Contact, Touchpoint
from tandem.leads.models import (
    RECORD_CHANNELS,
    ContactScore,
    Dispute,
    DisputeOutcome,
    DisputeSubject,
    Handoff,
    HandoffStatus,
    HandoffTrigger,
    MqlTarget,
    RejectionReason,
    ScoringModel,
)

Dimension = Literal["campaign", "channel", "source"]
DECIDED = [HandoffStatus.ACCEPTED, HandoffStatus.CONTACTED, HandoffStatus.REJECTED]


@dataclass
class QualityRow:
    value: str
    handoffs: int = 0
    accepted: int = 0
    rejected: int = 0
    upheld_disputes: int = 0
    accepted_but_disputed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def acceptance_rate(self) -> float | None:
        decided = self.accepted + self.rejected
        return round(self.accepted / decided, 4) if decided else None

    @property
    def quality_rate(self) -> float | None:
        """Accepted hand-offs no upheld lead-quality dispute found bad, over the decided."""
        decided = self.accepted + self.rejected
        good = self.accepted - self.accepted_but_disputed
        return round(good / decided, 4) if decided else None

    @property
    def top_reasons(self) -> list[tuple[str, str, int]]:
        """(reason, its label, count), most frequent first."""
        return [
            (
                reason,
                str(RejectionReason(reason).label) if reason in RejectionReason.values else reason,
                n,
            )
            for reason, n in self.reasons.most_common()
        ]


def lead_quality(
    user: User, dimension: Dimension = "campaign", since: dt.datetime | None = None
) -> list[QualityRow]:
    if dimension not in ("campaign", "channel", "source"):
        raise ValueError("dimension must be campaign, channel or source")
    handoffs = scoped(user, Handoff)
    if since is not None:
        handoffs = handoffs.filter(created_at__gte=since)
    facts = {
        pk: (contact_id, created, status, reason)
        for pk, contact_id, created, status, reason in handoffs.values_list(
            "pk", "contact_id", "created_at", "status", "rejection_reason"
        )
    }
    by_contact: dict[int, list[int]] = defaultdict(list)
    for pk, (contact_id, *_rest) in facts.items():
        by_contact[contact_id].append(pk)
    touches = (
        scoped(user, Touchpoint)
        .filter(contact_id__in=list(by_contact), is_bot=False)
        .exclude(channel__in=RECORD_CHANNELS)
        .values_list("contact_id", "occurred_at", dimension)
    )
    seen: dict[str, set[int]] = defaultdict(set)
    for contact_id, occurred_at, value in touches.iterator():
        for pk in by_contact[contact_id]:
            if occurred_at < facts[pk][1]:
                seen[value or "—"].add(pk)
    disputed = _upheld_quality_disputes(facts, by_contact)
    rows = []
    for value, pks in seen.items():
        row = QualityRow(value=value)
        for pk in pks:
            _contact, _created, status, reason = facts[pk]
            row.handoffs += 1
            row.upheld_disputes += disputed[pk]
            if status in (HandoffStatus.ACCEPTED, HandoffStatus.CONTACTED):
                row.accepted += 1
                row.accepted_but_disputed += 1 if disputed[pk] else 0
            elif status == HandoffStatus.REJECTED:
                row.rejected += 1
                row.reasons[reason] += 1
        rows.append(row)
    return sorted(rows, key=lambda r: (-r.handoffs, r.value))


def _upheld_quality_disputes(
    facts: dict[int, tuple[Any, ...]], by_contact: dict[int, list[int]]
) -> Counter[int]:
    """Upheld lead-quality disputes per hand-off (of `facts`): a dispute about a hand-off counts
    for it, one about a contact for the contact's latest hand-off opened before the dispute."""
    upheld = Dispute.objects.filter(
        subject=DisputeSubject.LEAD_QUALITY, outcome=DisputeOutcome.UPHELD
    )
    out: Counter[int] = Counter()
    handoff_type = ContentType.objects.get_for_model(Handoff)
    contact_type = ContentType.objects.get_for_model(Contact)
    rows = upheld.filter(content_type__in=[handoff_type, contact_type]).values_list(
        "content_type_id", "object_id", "opened_at"
    )
    for type_id, object_id, opened_at in rows:
        if not object_id.isdigit():
            continue
        if type_id == handoff_type.pk:
            if int(object_id) in facts:
                out[int(object_id)] += 1
            continue
        before = [pk for pk in by_contact.get(int(object_id), []) if facts[pk][1] <= opened_at]
        if before:
            out[max(before, key=lambda pk: (facts[pk][1], pk))] += 1
    return out


@dataclass
class MarketingSla:
    month: dt.date
    target: int | None
    delivered: int
    accepted: int
    rejected: int

    @property
    def acceptance_rate(self) -> float | None:
        decided = self.accepted + self.rejected
        return round(self.accepted / decided, 4) if decided else None

    @property
    def attainment(self) -> float | None:
        return round(self.delivered / self.target, 4) if self.target else None


def month_bounds(month: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(month.year, month.month, 1, tzinfo=tz)
    nxt = dt.datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=tz)
    return start, nxt


def marketing_sla(user: User, month: dt.date, tz: dt.tzinfo = dt.UTC) -> MarketingSla:
    start, end = month_bounds(month, tz)
    qs = scoped(user, Handoff).filter(
        created_at__gte=start,
        created_at__lt=end,
        trigger__in=[HandoffTrigger.MQL, HandoffTrigger.MANUAL, HandoffTrigger.QUOTE_REQUEST],
    )
    statuses = Counter(qs.values_list("status", flat=True))
    target = (
        MqlTarget.objects.filter(month=month.replace(day=1))
        .values_list("target", flat=True)
        .first()
    )
    return MarketingSla(
        month=month.replace(day=1),
        target=target,
        delivered=sum(statuses.values()),
        accepted=statuses[HandoffStatus.ACCEPTED] + statuses[HandoffStatus.CONTACTED],
        rejected=statuses[HandoffStatus.REJECTED],
    )


def before_handoff(user: User, handoff: Handoff) -> QuerySet[Touchpoint]:
    """What the lead got from us before it was handed over (newest first), as `user` may see."""
    return (
        scoped(user, Touchpoint)
        .filter(contact_id=handoff.contact_id, occurred_at__lte=handoff.created_at)
        .exclude(channel__in=RECORD_CHANNELS)
        .order_by("-occurred_at", "-id")
    )


def marketing_sent(user: User, handoff: Handoff) -> QuerySet[Touchpoint]:
    return before_handoff(user, handoff).filter(department=Department.MARKETING)


def contact_scores(user: User, contact: Contact) -> list[dict[str, Any]]:
    """The contact's score in each group the user may see: fit, engagement, total, threshold, the
    predictive probability with its top reasons, and the current model's test AUC."""
    from tandem.leads.scoring.predictive import explain  # numpy and the model code: on demand

    out = []
    rows = scoped(user, ContactScore).filter(contact=contact).select_related("scoring_model")
    for score in rows.order_by("scoring_model__product_line"):
        model: ScoringModel = score.scoring_model
        out.append(
            {
                "scoring_model_id": model.pk,
                "product_line": model.product_line,
                "fit": score.fit,
                "engagement": score.engagement,
                "total": score.total,
                "mql_threshold": model.mql_threshold,
                "probability": score.probability,
                "model_auc": model.predictive_models.filter(is_current=True)
                .values_list("auc", flat=True)
                .first(),
                "computed_at": score.computed_at,
                "reasons": explain(contact, model) if score.probability is not None else [],
            }
        )
    return out
