"""API of insights: the cockpit's numbers, computed by `selectors.summary` as the page does.

    GET /api/v1/insights/summary?from=2026-10-01&to=2026-12-31[&team=3][&industry=medical]
        [&channel=email][&model=linear]

Dates are local days (the caller's time zone, else the organisation's), both inclusive. A bad
date, a reversed range, an unknown team or model is a 400 naming the field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from tandem.core.api_auth import caller
from tandem.core.api_errors import Error
from tandem.core.errors import InvalidInput
from tandem.core.models import Team
from tandem.crm.models import Industry
from tandem.insights import selectors
from tandem.insights.channels import is_channel
from tandem.insights.goals_api import router as goals_router
from tandem.insights.homes_api import router as homes_router
from tandem.insights.periods import window, zone_of
from tandem.insights.process_api import router as process_router

router = Router(tags=["insights"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 429: Error}
ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"


class SummaryQuery(Schema):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: str = Field(
        alias="from", pattern=ISO_DAY, description="first day, YYYY-MM-DD (caller's time zone)"
    )
    end: str = Field(alias="to", pattern=ISO_DAY, description="last day, YYYY-MM-DD, inclusive")
    team: int | None = Field(None, ge=1, lt=2**31, description="a team's id: its deals, goals…")
    industry: str = Field("", description="the accounts' industry: agriculture, medical…")
    channel: str = Field(
        "", max_length=40, description="first-touch channel: email, organic_search… or none"
    )
    model: str = Field(selectors.DEFAULT_MODEL, description="attribution model of the credit split")


class PeriodOut(Schema):
    start: dt.date = Field(serialization_alias="from")
    end: dt.date = Field(serialization_alias="to")
    time_zone: str


class StepOut(Schema):
    stage: str
    entered: int
    converted_to_next: int | None
    median_days: float | None


class CreditOut(Schema):
    share: float
    low: float | None
    high: float | None


class MarketingSlaOut(Schema):
    mqls_delivered: int
    mql_goal: int | None
    accepted: int
    rejected: int
    acceptance_rate: float | None
    rejection_reasons: dict[str, int] = Field(description="reason code: hand-offs rejected")


class SalesSlaOut(Schema):
    answered: int
    answered_in_time: int
    answered_in_time_rate: float | None
    first_contact_due: int
    contacted_in_time: int
    contacted_in_time_rate: float | None
    breaching_now: int


class SlaOut(Schema):
    marketing: MarketingSlaOut
    sales: SalesSlaOut


class AlertOut(Schema):
    kind: str = Field(description="conversion (a step below the previous period) or sla")
    text: str


class ContentOut(Schema):
    name: str
    revenue: float = Field(description="revenue credited to the content")
    share: float


class CampaignReturnOut(Schema):
    campaign_id: int
    name: str
    cost: Decimal = Field(description="cost lines incurred in the period")
    revenue: float = Field(description="revenue credited to the campaign")
    roi: float | None = Field(description="(revenue - cost) / cost; null when it cost nothing")


class SummaryOut(Schema):
    period: PeriodOut
    team: int | None
    industry: str
    channel: str
    currency: str
    complete: bool = Field(description="false: counted over the records the caller may see")
    revenue_won: Decimal
    deals_won: int
    revenue_goal: Decimal | None
    pipeline_open: Decimal
    pipeline_weighted: Decimal
    deals_open: int
    pipeline_goal: Decimal | None
    coverage: float | None
    funnel: list[StepOut]
    credit_model: str
    credit_split: dict[str, CreditOut] | None = Field(
        description="each department's share of the revenue won, with its interval; null "
        "while the attribution run is being computed or failed (see credit_split_state)"
    )
    credit_split_state: str = Field(
        description="done; running while a worker computes the attribution run (credit_split "
        "is null, top_content and campaign_returns are empty: ask again later); failed (asking "
        "again tries again)"
    )
    credit_run_url: str | None = Field(
        description="the attribution run to follow (GET) while credit_split_state is not done"
    )
    top_content: list[ContentOut]
    campaign_returns: list[CampaignReturnOut]
    sla: SlaOut
    disputes_open: int
    alerts: list[AlertOut]


def _day(name: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput({name: [_("%(day)s is not a date") % {"day": text}]}) from None


# The attribution run's status as the summary tells it: running until a worker has stored it.
CREDIT_STATES = {"queued": "running", "running": "running", "failed": "failed", "done": "done"}


@router.get("/summary", response={200: SummaryOut, **ERRORS}, by_alias=True)
def summary(request: HttpRequest, filters: Query[SummaryQuery]) -> dict[str, Any]:
    """The cockpit's numbers for the period, as the caller may see them."""
    user = caller(request).user
    zone = zone_of(user)
    span = window(_day("from", filters.start), _day("to", filters.end), zone)
    if filters.team is not None and not Team.objects.filter(pk=filters.team).exists():
        raise InvalidInput({"team": [_("No such team.")]})
    if filters.industry and filters.industry not in Industry.values:
        raise InvalidInput(
            {"industry": [_("choose one of %(m)s") % {"m": ", ".join(Industry.values)}]}
        )
    channel = filters.channel.strip().lower()
    if channel and not is_channel(channel):
        raise InvalidInput({"channel": [_("A channel is a name such as email or organic_search.")]})
    if filters.model not in selectors.MODELS:
        raise InvalidInput(
            {"model": [_("choose one of %(m)s") % {"m": ", ".join(selectors.MODELS)}]}
        )
    s = selectors.summary(
        user,
        window=span,
        team_id=filters.team,
        industry=filters.industry,
        model=filters.model,
        channel=channel,
        credit_background=True,
    )
    credit_ready = CREDIT_STATES.get(s.credit_state, "done") == "done"
    return {
        "period": {"start": span.first, "end": span.last, "time_zone": zone.key},
        "team": filters.team,
        "industry": filters.industry,
        "channel": channel,
        "currency": s.currency,
        "complete": s.complete,
        "revenue_won": s.revenue_won,
        "deals_won": s.deals_won,
        "revenue_goal": s.revenue_goal,
        "pipeline_open": s.pipeline_open,
        "pipeline_weighted": s.pipeline_weighted,
        "deals_open": s.deals_open,
        "pipeline_goal": s.pipeline_goal,
        "coverage": s.coverage,
        "funnel": [
            {
                "stage": step.stage,
                "entered": step.entered,
                "converted_to_next": step.converted_to_next,
                "median_days": step.median_days,
            }
            for step in s.funnel
        ],
        "credit_model": s.model,
        "credit_split": {
            name: {"share": c.share, "low": c.low, "high": c.high}
            for name, c in s.credit_split.items()
        }
        if credit_ready
        else None,
        "credit_split_state": CREDIT_STATES.get(s.credit_state, "done"),
        "credit_run_url": None
        if credit_ready or s.credit_run_id is None
        else reverse("api:attribution_run", args=[s.credit_run_id]),
        "top_content": [
            {"name": c.name, "revenue": c.value, "share": c.share} for c in s.top_content
        ],
        "campaign_returns": [
            {
                "campaign_id": r.campaign_id,
                "name": r.name,
                "cost": r.cost,
                "revenue": r.revenue,
                "roi": r.roi,
            }
            for r in s.campaign_returns
        ],
        "sla": s.sla.as_json(),
        "disputes_open": s.disputes_open,
        "alerts": [{"kind": a.kind, "text": a.text} for a in s.alerts],
    }


# the process analytics', the goals' and the home pages' operations, in their own modules
router.add_router("", process_router)
router.add_router("", goals_router)
router.add_router("", homes_router)
