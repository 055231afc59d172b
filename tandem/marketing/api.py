"""API endpoints of marketing: segments (list, create, live count, members) and the segment event
feed automation reads (entered/left, by id cursor). Thin; reads go through `scoped`, so a rep's
token sees no segments (404 for one by id) and is refused writes (403)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from tandem.core.access import get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.marketing.models import Segment, SegmentEvent
from tandem.marketing.scopes import MARKETING_ROLES
from tandem.marketing.segments import services as seg

router = Router(tags=["marketing"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


class SegmentOut(Schema):
    id: int
    name: str
    kind: str
    definition: dict[str, Any]
    member_count: int
    refreshed_at: dt.datetime | None


class SegmentIn(Schema):
    name: str = Field(max_length=200)
    kind: str = Field("dynamic", max_length=10)
    definition: dict[str, Any] = Field(default_factory=dict)


class CountIn(Schema):
    definition: dict[str, Any]


class CountOut(Schema):
    count: int


class EventOut(Schema):
    id: int
    segment_id: int
    contact_id: int
    kind: str
    at: dt.datetime


class EventFilters(Schema):
    after_id: int = Field(0, ge=0)
    limit: int = Field(500, ge=1, le=1000)


def _marketer(request: HttpRequest, *, write: bool = False) -> ApiCaller:
    who = caller(request)
    allowed = who.user.is_superuser or who.user.role in MARKETING_ROLES
    if not allowed or (write and not who.can_write):
        raise ApiError(403, "forbidden", _("Segments are for marketing."))
    return who


@router.get("/segments", response={200: list[SegmentOut], **ERRORS})
def list_segments(request: HttpRequest) -> list[Segment]:
    return list(scoped(caller(request).user, Segment).order_by("name", "id")[:500])


@router.post("/segments", response={201: SegmentOut, **ERRORS})
def create_segment(request: HttpRequest, payload: SegmentIn) -> tuple[int, Segment]:
    who = _marketer(request, write=True)
    segment = seg.segment_create(
        actor=who.actor, name=payload.name, kind=payload.kind, definition=payload.definition
    )
    return 201, segment


@router.post("/segments/count", response={200: CountOut, **ERRORS})
def count_definition(request: HttpRequest, payload: CountIn) -> dict[str, int]:
    who = _marketer(request)
    return {"count": seg.definition_count(user=who.user, definition=payload.definition)}


@router.get("/segments/{segment_id}", response={200: SegmentOut, **ERRORS})
def get_segment(request: HttpRequest, segment_id: int) -> Segment:
    return get_scoped(caller(request).user, Segment, segment_id)


@router.get("/segment-events", response={200: list[EventOut], **ERRORS})
def segment_events(request: HttpRequest, filters: Query[EventFilters]) -> list[SegmentEvent]:
    user = caller(request).user
    return list(
        scoped(user, SegmentEvent).filter(pk__gt=filters.after_id).order_by("pk")[: filters.limit]
    )


# --- campaigns and content (issue 6, points 1 and 5) ------------------------------------------

from tandem.core.errors import InvalidInput  # noqa: E402
from tandem.crm.models import Contact  # noqa: E402
from tandem.marketing.campaigns.report import campaign_report  # noqa: E402
from tandem.marketing.content import services as content_services  # noqa: E402
from tandem.marketing.models_campaigns import Campaign  # noqa: E402
from tandem.marketing.models_content import ContentAsset  # noqa: E402


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


class AssetOut(Schema):
    id: int
    kind: str
    title: str
    key: str
    url: str
    campaign_id: int | None


class EngagementIn(Schema):
    action: str = Field(max_length=20)
    contact_id: int | None = None
    anonymous_id: str = Field("", max_length=200)


class EngagementOut(Schema):
    touchpoint_id: int


@router.get("/campaigns", response={200: list[CampaignOut], **ERRORS})
def list_campaigns(request: HttpRequest) -> list[Campaign]:
    return list(scoped(caller(request).user, Campaign).order_by("-id")[:500])


@router.get("/campaigns/{campaign_id}/report", response={200: CampaignReportOut, **ERRORS})
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


@router.get("/content", response={200: list[AssetOut], **ERRORS})
def list_content(request: HttpRequest) -> list[ContentAsset]:
    return list(content_services.library(caller(request).user)[:500])


@router.post("/content/{asset_id}/engagement", response={201: EngagementOut, **ERRORS})
def record_content_engagement(
    request: HttpRequest, asset_id: int, payload: EngagementIn
) -> Status[dict[str, int]]:
    """A view or download of an asset (by a known contact or an anonymous visitor)."""
    who = _marketer(request, write=True)
    asset = get_scoped(who.user, ContentAsset, asset_id)
    contact = (
        get_scoped(who.user, Contact, payload.contact_id)
        if payload.contact_id is not None
        else None
    )
    if contact is None and not payload.anonymous_id:
        raise ApiError(400, "invalid", _("Give a contact_id or an anonymous_id."))
    try:
        touch = content_services.engagement_record(
            asset=asset,
            action=payload.action,
            contact=contact,
            anonymous_id=payload.anonymous_id,
            actor=who.user,
        )
    except InvalidInput as exc:
        raise ApiError(400, "invalid", exc.message) from None
    return Status(201, {"touchpoint_id": touch.pk})
