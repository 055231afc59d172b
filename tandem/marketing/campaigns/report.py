"""What a campaign brought in, as the viewing user may see it (every read through `scoped`).

Definitions (all set-based: a fixed number of queries whatever the number of contacts):
- reach: distinct contacts with a non-bot touchpoint whose `campaign` is the UTM code;
- engagement: those touchpoints counted by kind;
- leads: touched contacts that were created at most one hour before their first campaign touch
  (new people the campaign brought), or that entered lead or MQL at or after that first touch
  (lifecycle history of the leads app);
- hand-offs: hand-offs of touched contacts created at or after their first campaign touch;
- pipeline / won revenue: open / won deals created after a campaign touch of one of their
  contacts or of their account (influenced deals);
- attributed credit: the campaign's row in the latest attribution run the user may see (the
  campaign dimension), if there is one;
- revenue: the attributed value when an attribution run credits the campaign, else the won
  revenue of influenced deals; ROI = (revenue - cost) / cost, undefined when cost is 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count as _Count
from django.db.models import (
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)

from tandem.core.access import scoped
from tandem.core.models import User
from tandem.crm.models import Contact, LifecycleStage, Touchpoint
from tandem.marketing.models_campaigns import Campaign

NEW_CONTACT_SLACK = dt.timedelta(hours=1)
CENT = Decimal("0.01")


def _money(value: Decimal | None) -> Decimal:
    """Sums come back as Decimal with the database's scale (SQLite drops it): two places."""
    return (value or Decimal("0")).quantize(CENT)


@dataclass
class CampaignReport:
    reach: int = 0
    engagement: list[tuple[str, int]] = field(default_factory=list)
    leads: int = 0
    handoffs: int = 0
    pipeline: Decimal = Decimal("0")
    won_revenue: Decimal = Decimal("0.00")
    attributed_conversions: float | None = None
    attributed_value: float | None = None
    cost: Decimal = Decimal("0")
    cost_by_channel: list[tuple[str, Decimal]] = field(default_factory=list)

    @property
    def revenue(self) -> Decimal:
        if self.attributed_value is not None:
            return Decimal(str(self.attributed_value)).quantize(CENT)
        return self.won_revenue

    @property
    def revenue_source(self) -> str:
        return "attribution" if self.attributed_value is not None else "deals"

    @property
    def roi(self) -> Decimal | None:
        if self.cost <= 0:
            return None
        return ((self.revenue - self.cost) / self.cost).quantize(Decimal("0.0001"))


def campaign_touchpoints(user: User, campaign: Campaign) -> QuerySet[Touchpoint]:
    return scoped(user, Touchpoint).filter(campaign=campaign.utm_code, is_bot=False)


def _first_touch(user: User, campaign: Campaign, ref: str) -> Subquery:
    return Subquery(
        campaign_touchpoints(user, campaign)
        .filter(contact_id=OuterRef(ref))
        .values("contact_id")
        .annotate(first=Min("occurred_at"))
        .values("first")[:1]
    )


def campaign_report(user: User, campaign: Campaign) -> CampaignReport:
    from tandem.leads.models import Handoff, StageHistory  # lazily: leads is optional here
    from tandem.sales.models import DealStatus  # lazily

    report = CampaignReport()
    touches = campaign_touchpoints(user, campaign)
    report.reach = touches.filter(contact__isnull=False).values("contact_id").distinct().count()
    report.engagement = [
        (row["kind"], row["n"])
        for row in touches.values("kind").annotate(n=_Count("id")).order_by("-n", "kind")
    ]
    touched = (
        scoped(user, Contact)
        .filter(pk__in=touches.filter(contact__isnull=False).values("contact_id"))
        .annotate(first_touch=_first_touch(user, campaign, "pk"))
    )
    stage_after = scoped(user, StageHistory).filter(
        contact_id=OuterRef("pk"),
        stage__in=[LifecycleStage.LEAD, LifecycleStage.MQL],
        entered_at__gte=OuterRef("first_touch"),
    )
    new_since = ExpressionWrapper(
        F("first_touch") - NEW_CONTACT_SLACK, output_field=DateTimeField()
    )
    report.leads = (
        touched.annotate(new_since=new_since)
        .filter(Q(created_at__gte=F("new_since")) | Exists(stage_after))
        .count()
    )
    report.handoffs = (
        scoped(user, Handoff)
        .filter(contact_id__in=touched.values("pk"))
        .annotate(first_touch=_first_touch(user, campaign, "contact_id"))
        .filter(created_at__gte=F("first_touch"))
        .count()
    )
    deals = _influenced_deals(user, campaign)
    sums = deals.aggregate(
        pipeline=Sum("amount", filter=Q(status=DealStatus.OPEN)),
        won=Sum("amount", filter=Q(status=DealStatus.WON)),
    )
    report.pipeline = _money(sums["pipeline"])
    report.won_revenue = _money(sums["won"])
    credit = _attributed(user, campaign)
    if credit is not None:
        report.attributed_conversions = float(credit.get("conversions", 0.0))
        report.attributed_value = float(credit.get("value", 0.0))
    costs = scoped(user, campaign.costs.all())
    report.cost_by_channel = [
        (row["channel"], _money(row["total"]))
        for row in costs.values("channel").annotate(total=Sum("amount")).order_by("channel")
    ]
    report.cost = _money(sum((total for _c, total in report.cost_by_channel), Decimal("0")))
    return report


def _influenced_deals(user: User, campaign: Campaign) -> QuerySet[Any]:
    from tandem.sales.models import Deal  # lazily

    before_deal = campaign_touchpoints(user, campaign).filter(
        occurred_at__lte=OuterRef("created_at")
    )
    return scoped(user, Deal).filter(
        Exists(before_deal.filter(contact__deal_roles__deal_id=OuterRef("pk")))
        | Exists(before_deal.filter(account_id=OuterRef("account_id"), account__isnull=False))
    )


def _attributed(user: User, campaign: Campaign) -> dict[str, Any] | None:
    from tandem.attribution.models import AttributionRun  # lazily

    run = scoped(user, AttributionRun).order_by("-created_at", "-id").first()
    if run is None:
        return None
    rows = (run.result or {}).get("credits", {}).get("campaign", [])
    for row in rows:
        if isinstance(row, dict) and row.get("name") == campaign.utm_code:
            return row
    return None
