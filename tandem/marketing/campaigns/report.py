"""What a campaign brought in, as the viewing user may see it (every read through `scoped`).

Definitions (all set-based: a fixed number of queries whatever the number of contacts):
- reach: distinct contacts with a non-bot touchpoint whose `campaign` is the UTM code (compared
  case-insensitively: `Spring-Launch` in a link is the campaign `spring-launch`);
- engagement: those touchpoints counted by kind;
- leads: touched contacts that reached lead or a later stage (a lead/MQL entry in the leads
  app's lifecycle history, or created at such a stage) and either
  (a) entered lead or MQL through the campaign: the last touchpoint before that entry (bots
      and lifecycle bookkeeping left out) is the campaign's, or
  (b) were sourced by it: their first touchpoint ever is the campaign's.
  A subscriber the campaign touched (an imported event registrant, say) is not a lead;
- hand-offs: hand-offs of touched contacts created at or after their first campaign touch;
- pipeline / won revenue: open / won deals created after a campaign touch of one of their
  contacts or of their account (influenced deals);
- attributed credit: the campaign's row (campaign dimension) in one deliberately chosen
  attribution run the user may see: the organisation's default model
  (`settings.ATTRIBUTION_DEFAULT_MODEL`, default "markov", the attribution page's default),
  conversion `deal_won` (revenue), no segment filter (industry, team, channels), a period
  covering the campaign's dates; the latest such run. The page names the run, model and period;
  no such run: no attributed figures;
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
    Exists,
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
from tandem.marketing.campaigns.models import Campaign

CENT = Decimal("0.01")
LEAD_OR_LATER = [
    LifecycleStage.LEAD,
    LifecycleStage.MQL,
    LifecycleStage.SAL,
    LifecycleStage.SQL,
    LifecycleStage.OPPORTUNITY,
    LifecycleStage.CUSTOMER,
]
BOOKKEEPING_KINDS = [
    "lifecycle_stage_changed",
    "dispute_opened",
    "dispute_decided",
    "handoff_routed",
    "handoff_accepted",
    "handoff_rejected",
]
RUN_CANDIDATES = 200  # runs of the default model looked at, newest first


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
    attribution_run_id: int | None = None
    attribution_model: str = ""
    attribution_start: dt.date | None = None
    attribution_end: dt.date | None = None

    @property
    def revenue(self) -> Decimal:
        if self.attributed_value is not None:
            return Decimal(str(self.attributed_value)).quantize(CENT)
        return self.won_revenue

    @property
    def attribution_model_default(self) -> str:
        return default_attribution_model()

    @property
    def revenue_source(self) -> str:
        return "attribution" if self.attributed_value is not None else "deals"

    @property
    def roi(self) -> Decimal | None:
        if self.cost <= 0:
            return None
        return ((self.revenue - self.cost) / self.cost).quantize(Decimal("0.0001"))


def campaign_touchpoints(user: User, campaign: Campaign) -> QuerySet[Touchpoint]:
    """The campaign's non-bot touchpoints: `campaign` equal to the code in any case (codes are
    stored lowercase; tracking keeps `utm_campaign` as the visitor's link had it)."""
    return scoped(user, Touchpoint).filter(campaign__iexact=campaign.utm_code, is_bot=False)


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
    code = campaign.utm_code
    real_touches = scoped(user, Touchpoint).filter(is_bot=False).exclude(kind__in=BOOKKEEPING_KINDS)
    last_touch_before_entry = Subquery(
        real_touches.filter(
            contact_id=OuterRef("contact_id"), occurred_at__lte=OuterRef("entered_at")
        )
        .order_by("-occurred_at", "-id")
        .values("campaign")[:1]
    )
    entered_through_campaign = (
        scoped(user, StageHistory)
        .filter(contact_id=OuterRef("pk"), stage__in=[LifecycleStage.LEAD, LifecycleStage.MQL])
        .annotate(via=last_touch_before_entry)
        .filter(via__iexact=code)
    )
    first_touch_campaign = Subquery(
        real_touches.filter(contact_id=OuterRef("pk"))
        .order_by("occurred_at", "id")
        .values("campaign")[:1]
    )
    reached_lead = Q(lifecycle_stage__in=LEAD_OR_LATER) | Exists(
        StageHistory.objects.filter(contact_id=OuterRef("pk"), stage__in=LEAD_OR_LATER)
    )
    report.leads = (
        touched.annotate(first_campaign=first_touch_campaign)
        .filter(Exists(entered_through_campaign) | (reached_lead & Q(first_campaign__iexact=code)))
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
    run = attribution_run_for(user, campaign)
    if run is not None:
        report.attribution_run_id = run.pk
        report.attribution_model = run.model
        report.attribution_start, report.attribution_end = _run_period(run) or (None, None)
        credit = _credit_of(run, campaign)
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


def default_attribution_model() -> str:
    """The organisation's attribution model for campaign revenue (the attribution page's
    default unless `ATTRIBUTION_DEFAULT_MODEL` says otherwise)."""
    from django.conf import settings

    return str(getattr(settings, "ATTRIBUTION_DEFAULT_MODEL", "") or "markov")


def _run_period(run: Any) -> tuple[dt.date, dt.date] | None:
    """The run's conversion period as inclusive dates (its stored end is exclusive midnight)."""
    try:
        start = dt.datetime.fromisoformat(str(run.params["start"]))
        end = dt.datetime.fromisoformat(str(run.params["end"]))
    except (KeyError, TypeError, ValueError):
        return None
    return start.date(), (end - dt.timedelta(microseconds=1)).date()


def _is_plain_revenue_run(run: Any) -> bool:
    params = run.params or {}
    return (
        params.get("conversion") == "deal_won"
        and not params.get("industry")
        and params.get("team_id") is None
        and not params.get("channels")
    )


def attribution_run_for(user: User, campaign: Campaign) -> Any:
    """The attribution run campaign revenue comes from, or None (see the module docstring)."""
    from tandem.attribution.models import AttributionRun  # lazily

    runs = (
        scoped(user, AttributionRun)
        .filter(model=default_attribution_model(), status="done")  # not those being computed
        .order_by("-created_at", "-id")[:RUN_CANDIDATES]
    )
    for run in runs:
        period = _run_period(run)
        if period is None or not _is_plain_revenue_run(run):
            continue
        first, last = period
        if campaign.starts_on and first > campaign.starts_on:
            continue
        if campaign.ends_on and last < campaign.ends_on:
            continue
        return run
    return None


def _credit_of(run: Any, campaign: Campaign) -> dict[str, Any] | None:
    rows = (run.result or {}).get("credits", {}).get("campaign", [])
    for row in rows:
        if isinstance(row, dict) and str(row.get("name", "")).lower() == campaign.utm_code:
            return row
    return None
