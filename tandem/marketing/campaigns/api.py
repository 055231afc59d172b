"""API of campaigns: the list and a campaign's report. Thin; reads go through `scoped`.
Mounted by `tandem.marketing.api`; operation ids are kept from when one module held them all."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from tandem.core.access import get_scoped, scoped
from tandem.core.api_auth import caller
from tandem.core.api_errors import Error
from tandem.marketing.campaigns.models import Campaign
from tandem.marketing.campaigns.report import campaign_report

router = Router(tags=["marketing"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


class CampaignOut(Schema):
    id: int
    name: str
    goal: str
    channels: list[str]
    budget: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    utm_code: str

    @staticmethod
    def resolve_budget(obj: Campaign) -> str:
        return str(obj.budget)


class CampaignReportOut(Schema):
    reach: int
    engagement: dict[str, int]
    leads: int
    handoffs: int
    pipeline: str
    won_revenue: str
    attributed_conversions: float | None
    attributed_value: float | None
    cost: str
    revenue: str
    revenue_source: str
    roi: str | None


@router.get(
    "/campaigns",
    response={200: list[CampaignOut], **ERRORS},
    operation_id="tandem_marketing_api_list_campaigns",
)
def list_campaigns(request: HttpRequest) -> list[Campaign]:
    return list(scoped(caller(request).user, Campaign).order_by("-id")[:500])


@router.get(
    "/campaigns/{campaign_id}/report",
    response={200: CampaignReportOut, **ERRORS},
    operation_id="tandem_marketing_api_get_campaign_report",
)
def get_campaign_report(request: HttpRequest, campaign_id: int) -> dict[str, Any]:
    user = caller(request).user
    report = campaign_report(user, get_scoped(user, Campaign, campaign_id))
    return {
        "reach": report.reach,
        "engagement": dict(report.engagement),
        "leads": report.leads,
        "handoffs": report.handoffs,
        "pipeline": str(report.pipeline),
        "won_revenue": str(report.won_revenue),
        "attributed_conversions": report.attributed_conversions,
        "attributed_value": report.attributed_value,
        "cost": str(report.cost),
        "revenue": str(report.revenue),
        "revenue_source": report.revenue_source,
        "roi": None if report.roi is None else str(report.roi),
    }
