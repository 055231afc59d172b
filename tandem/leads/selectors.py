"""Reads that span models: feedback both ways and marketing's side of the service level.

Every function takes the viewing user and reads through `scoped`, so a user only ever counts the
hand-offs and touchpoints they may see.

- `lead_quality`: per campaign, channel or source of the touchpoints a contact had BEFORE its
  hand-off (bots excluded): hand-offs, accepted, rejected, acceptance rate and rejection reasons.
  A hand-off counts once per value it was touched by (multi-touch), never twice for one value.
- `marketing_sla`: MQLs delivered in a month against the target, and the acceptance rate of the
  hand-offs of that month that sales decided on.
- `before_handoff`: everything marketing sent a lead before the hand-off (its timeline up to then).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db.models import QuerySet

from tandem.core.access import scoped
from tandem.core.models import Department, User
from tandem.crm.models import Contact, Touchpoint
from tandem.leads.models import (
    ContactScore,
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
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def acceptance_rate(self) -> float | None:
        decided = self.accepted + self.rejected
        return round(self.accepted / decided, 4) if decided else None

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
        .exclude(channel="lifecycle")
        .values_list("contact_id", "occurred_at", dimension)
    )
    seen: dict[str, set[int]] = defaultdict(set)
    for contact_id, occurred_at, value in touches.iterator():
        for pk in by_contact[contact_id]:
            if occurred_at < facts[pk][1]:
                seen[value or "—"].add(pk)
    rows = []
    for value, pks in seen.items():
        row = QualityRow(value=value)
        for pk in pks:
            _contact, _created, status, reason = facts[pk]
            row.handoffs += 1
            if status in (HandoffStatus.ACCEPTED, HandoffStatus.CONTACTED):
                row.accepted += 1
            elif status == HandoffStatus.REJECTED:
                row.rejected += 1
                row.reasons[reason] += 1
        rows.append(row)
    return sorted(rows, key=lambda r: (-r.handoffs, r.value))


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
        .exclude(channel="lifecycle")
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
