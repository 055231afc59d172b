"""API endpoints of marketing: segments (list, create, live count, members) and the segment event
feed automation reads (entered/left, by id cursor). Thin; reads go through `scoped`, so a rep's
token sees no segments (404 for one by id) and is refused writes (403)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
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
