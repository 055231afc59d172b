"""The enablement operations under /api/v1/enablement (mounted in config/api.py): the library,
shares, ratings, requests, value, the voice of the customer, joint touches and the loop's health.
Each operation checks the capability the page checks and calls the same service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from tandem.core.access import can, get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.errors import InvalidInput
from tandem.crm.models import Account, Contact
from tandem.enablement import joint, selectors, services, voc
from tandem.enablement.models import (
    Asset,
    ContentRequest,
    JointTouch,
    RequestStatus,
    TagStatus,
    Theme,
    VocTag,
)

router = Router(tags=["enablement"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 429: Error}
T = TypeVar("T")
STATUS_OF = {"forbidden": 403, "conflict": 409}


def _who(request: HttpRequest, capability: str, *, write: bool = False) -> ApiCaller:
    who = caller(request)
    if not can(who.user, capability) or (write and not who.can_write):
        raise ApiError(403, "forbidden", _("You may not do this."))
    return who


def _call(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except InvalidInput as exc:
        raise ApiError(STATUS_OF.get(exc.code, 400), exc.code, exc.message, exc.errors) from None


# --- schemas ----------------------------------------------------------------------------------


class AssetOut(Schema):
    id: int
    key: str
    title: str
    description: str
    kind: str
    language: str
    product: str
    industry: str
    stage: str
    persona: str
    owner_id: int | None
    expires_on: dt.date | None
    archived: bool


class AssetIn(Schema):
    title: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    language: str = Field(max_length=2)
    url: str = Field(max_length=2000)
    pages: int = Field(1, ge=1, le=500)
    key: str = Field("", max_length=100)
    description: str = Field("", max_length=4000)
    product: str = Field("", max_length=120)
    industry: str = Field("", max_length=20)
    stage: str = Field("", max_length=20)
    persona: str = Field("", max_length=20)
    expires_on: dt.date | None = None


class AssetPatch(Schema):
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=4000)
    product: str | None = Field(None, max_length=120)
    expires_on: dt.date | None = None
    archived: bool | None = None


class LibraryFilter(Schema):
    q: str = Field("", max_length=200)
    kind: str = Field("", max_length=20)
    industry: str = Field("", max_length=20)
    stage: str = Field("", max_length=20)
    persona: str = Field("", max_length=20)
    product: str = Field("", max_length=120)


class VersionIn(Schema):
    url: str = Field(max_length=2000)
    pages: int = Field(1, ge=1, le=500)
    note: str = Field("", max_length=300)


class VersionOut(Schema):
    id: int
    number: int
    url: str
    pages: int


class ShareIn(Schema):
    contact_id: int = Field(ge=1, le=2**31 - 1)


class ShareOut(Schema):
    id: int
    url: str
    version: int


class RatingIn(Schema):
    stars: int = Field(ge=1, le=5)
    reasons: list[str] = Field(default_factory=list, max_length=10)
    comment: str = Field("", max_length=500)


class IdOut(Schema):
    id: int


class WinRateOut(Schema):
    used: int
    used_won: int
    compared: int
    rate: float | None
    rate_low: float | None
    rate_high: float | None
    matched_rate: float | None
    lift: float | None
    lift_low: float | None
    lift_high: float | None


class ValueOut(Schema):
    asset_id: int
    title: str
    shares: int
    reps: int
    buyers: int
    views: int
    seconds: int
    influenced: Decimal
    credit: Decimal
    stars: float | None
    win: WinRateOut


class RequestIn(Schema):
    title: str = Field(max_length=200)
    detail: str = Field("", max_length=2000)
    kind: str = Field("", max_length=20)
    industry: str = Field("", max_length=20)


class RequestOut(Schema):
    id: int
    title: str
    status: str
    requester_id: int
    assignee_id: int | None
    due_on: dt.date | None
    asset_id: int | None


class RequestMoveIn(Schema):
    status: str = Field(max_length=20)
    due_on: dt.date | None = None
    asset_id: int | None = Field(None, ge=1, le=2**31 - 1)
    note: str = Field("", max_length=500)


class ThemeIn(Schema):
    kind: str = Field(max_length=20)
    name: str = Field(max_length=120)
    keywords: str = Field("", max_length=1000)


class ThemeOut(Schema):
    id: int
    kind: str
    name: str
    count: int
    recent: int
    rising: bool
    at_stake: Decimal
    answered_by: list[int]


class AnswersIn(Schema):
    asset_ids: list[int] = Field(max_length=100)


class TagOut(Schema):
    id: int
    theme_id: int
    source_kind: str
    source_id: int
    account_id: int | None
    excerpt: str
    status: str


class DecideIn(Schema):
    confirm: bool


class SuggestOut(Schema):
    new: int


class JointIn(Schema):
    account_id: int = Field(ge=1, le=2**31 - 1)
    kind: str = Field(max_length=20)
    planned_at: dt.datetime
    purpose: str = Field("", max_length=300)


class JointOut(Schema):
    id: int
    status: str
    rep_id: int
    marketer_id: int
    account_id: int


class JointAnswerIn(Schema):
    accept: bool


class JointDoneIn(Schema):
    note: str = Field("", max_length=4000)


class InsightIn(Schema):
    account_id: int = Field(ge=1, le=2**31 - 1)
    text: str = Field(max_length=4000)


# --- the library ----------------------------------------------------------------------------


@router.get("/assets", response={200: list[AssetOut], **ERRORS})
def list_assets(request: HttpRequest, filters: Query[LibraryFilter]) -> list[Asset]:
    who = _who(request, "read_content")
    return list(services.library(who.user, **filters.dict())[:500])


@router.post("/assets", response={201: AssetOut, **ERRORS})
def create_asset(request: HttpRequest, payload: AssetIn) -> Status[Asset]:
    who = _who(request, "manage_collateral", write=True)
    data = payload.dict()
    url, pages, key = data.pop("url"), data.pop("pages"), data.pop("key")
    asset = _call(
        lambda: services.asset_create(actor=who.actor, url=url, pages=pages, key=key, **data)
    )
    return Status(201, asset)


@router.patch("/assets/{asset_id}", response={200: AssetOut, **ERRORS})
def update_asset(request: HttpRequest, asset_id: int, payload: AssetPatch) -> Asset:
    who = _who(request, "manage_collateral", write=True)
    asset = get_scoped(who.user, Asset, asset_id, "change")
    data = payload.dict(exclude_unset=True)
    return _call(lambda: services.asset_update(actor=who.actor, asset=asset, **data))


@router.post("/assets/{asset_id}/versions", response={201: VersionOut, **ERRORS})
def add_version(request: HttpRequest, asset_id: int, payload: VersionIn) -> Status[Any]:
    who = _who(request, "manage_collateral", write=True)
    asset = get_scoped(who.user, Asset, asset_id, "change")
    version = _call(lambda: services.version_add(actor=who.actor, asset=asset, **payload.dict()))
    return Status(201, version)


@router.post("/assets/{asset_id}/shares", response={201: ShareOut, **ERRORS})
def share_asset(request: HttpRequest, asset_id: int, payload: ShareIn) -> Status[dict[str, Any]]:
    """Share the asset's current version with a contact: a tracked link for the buyer."""
    who = _who(request, "share_collateral", write=True)
    asset = get_scoped(who.user, Asset, asset_id)
    contact = get_scoped(who.user, Contact, payload.contact_id)
    share = _call(lambda: services.share_create(actor=who.actor, asset=asset, contact=contact))
    return Status(
        201, {"id": share.pk, "url": services.share_url(share), "version": share.version.number}
    )


@router.post("/assets/{asset_id}/ratings", response={201: IdOut, **ERRORS})
def rate_asset(request: HttpRequest, asset_id: int, payload: RatingIn) -> Status[dict[str, int]]:
    who = _who(request, "read_content", write=True)
    asset = get_scoped(who.user, Asset, asset_id)
    rating = _call(
        lambda: services.rating_record(
            actor=who.actor,
            asset=asset,
            stars=payload.stars,
            reasons=payload.reasons,
            comment=payload.comment,
        )
    )
    return Status(201, {"id": rating.pk})


@router.get("/value", response={200: list[ValueOut], **ERRORS})
def content_value(request: HttpRequest) -> list[dict[str, Any]]:
    """Usage and value of every asset, with matched win rates and their interval."""
    who = _who(request, "read_content")
    assets = list(services.library(who.user)[:500])
    usage = selectors.asset_usage(who.user, assets)
    return [
        {"asset_id": a.pk, "title": a.title, **vars(usage[a.pk]), "win": vars(usage[a.pk].win)}
        for a in assets
    ]


# --- requests -------------------------------------------------------------------------------


@router.get("/requests", response={200: list[RequestOut], **ERRORS})
def list_requests(request: HttpRequest, status: str = "") -> Any:
    who = _who(request, "read_content")
    rows = scoped(who.user, ContentRequest)
    if status and status not in RequestStatus.values:
        raise ApiError(400, "invalid", _("Unknown status."), {"status": [_("Unknown status.")]})
    return list((rows.filter(status=status) if status else rows)[:500])


@router.post("/requests", response={201: RequestOut, **ERRORS})
def create_request(request: HttpRequest, payload: RequestIn) -> Status[ContentRequest]:
    who = _who(request, "read_content", write=True)
    return Status(201, _call(lambda: services.request_create(actor=who.actor, **payload.dict())))


@router.post("/requests/{request_id}/move", response={200: RequestOut, **ERRORS})
def move_request(request: HttpRequest, request_id: int, payload: RequestMoveIn) -> ContentRequest:
    """Triage, plan, deliver (with the asset) or decline; the requester is notified."""
    who = _who(request, "manage_collateral", write=True)
    req = get_scoped(who.user, ContentRequest, request_id, "change")
    asset = get_scoped(who.user, Asset, payload.asset_id) if payload.asset_id else None
    return _call(
        lambda: services.request_move(
            actor=who.actor,
            request=req,
            status=payload.status,
            assignee=who.user if req.assignee_id is None else None,
            due_on=payload.due_on,
            asset=asset,
            note=payload.note,
        )
    )


# --- voice of the customer -----------------------------------------------------------------


@router.get("/themes", response={200: list[ThemeOut], **ERRORS})
def list_themes(request: HttpRequest, by: str = "count") -> list[dict[str, Any]]:
    who = _who(request, "read_content")
    return [
        {
            "id": r.theme.pk,
            "kind": r.theme.kind,
            "name": r.theme.name,
            "count": r.count,
            "recent": r.recent,
            "rising": r.rising,
            "at_stake": r.at_stake,
            "answered_by": [a.pk for a in r.answered_by],
        }
        for r in selectors.themes_ranked(who.user, by=by)
    ]


@router.post("/themes", response={201: IdOut, **ERRORS})
def create_theme(request: HttpRequest, payload: ThemeIn) -> Status[dict[str, int]]:
    who = _who(request, "manage_collateral", write=True)
    theme = _call(lambda: voc.theme_save(actor=who.actor, **payload.dict()))
    return Status(201, {"id": theme.pk})


@router.put("/themes/{theme_id}/answers", response={200: IdOut, **ERRORS})
def answer_theme(request: HttpRequest, theme_id: int, payload: AnswersIn) -> dict[str, int]:
    who = _who(request, "manage_collateral", write=True)
    theme = get_scoped(who.user, Theme, theme_id, "change")
    ids = list(
        scoped(who.user, Asset).filter(pk__in=payload.asset_ids).values_list("pk", flat=True)
    )
    if len(ids) != len(set(payload.asset_ids)):
        raise ApiError(400, "invalid", _("No such asset."), {"asset_ids": [_("No such asset.")]})
    voc.theme_answer(actor=who.actor, theme=theme, asset_ids=ids)
    return {"id": theme.pk}


@router.get("/tags", response={200: list[TagOut], **ERRORS})
def list_tags(request: HttpRequest, status: str = TagStatus.SUGGESTED) -> Any:
    who = _who(request, "read_content")
    if status not in TagStatus.values:
        raise ApiError(400, "invalid", _("Unknown status."), {"status": [_("Unknown status.")]})
    return list(scoped(who.user, VocTag).filter(status=status)[:500])


@router.post("/tags/suggest", response={200: SuggestOut, **ERRORS})
def suggest_tags(request: HttpRequest, days: int = 90) -> dict[str, int]:
    _who(request, "manage_collateral", write=True)
    if not 1 <= days <= 730:
        raise ApiError(400, "invalid", _("Give 1 to 730 days."), {"days": [_("1 to 730")]})
    return {"new": voc.tags_suggest(since=timezone.now() - dt.timedelta(days=days))}


@router.post("/tags/{tag_id}/decide", response={200: TagOut, **ERRORS})
def decide_tag(request: HttpRequest, tag_id: int, payload: DecideIn) -> VocTag:
    who = _who(request, "read_content", write=True)
    tag = get_scoped(who.user, VocTag, tag_id)
    return _call(lambda: voc.tag_decide(actor=who.actor, tag=tag, confirm=payload.confirm))


# --- joint touches, insights, health ---------------------------------------------------------


@router.post("/joint", response={201: JointOut, **ERRORS})
def request_joint(request: HttpRequest, payload: JointIn) -> Status[JointTouch]:
    """A marketer asks the account's rep to join a call, meeting or field visit."""
    who = _who(request, "join_sales_meetings", write=True)
    account = get_scoped(who.user, Account, payload.account_id)
    if account.owner is None:
        raise ApiError(400, "invalid", _("The account has no owner to ask."))
    rep = account.owner
    item = _call(
        lambda: joint.joint_request(
            actor=who.actor,
            account=account,
            rep=rep,
            kind=payload.kind,
            planned_at=payload.planned_at,
            purpose=payload.purpose,
        )
    )
    return Status(201, item)


@router.post("/joint/{joint_id}/answer", response={200: JointOut, **ERRORS})
def answer_joint(request: HttpRequest, joint_id: int, payload: JointAnswerIn) -> JointTouch:
    who = caller(request)
    if not who.can_write:
        raise ApiError(403, "forbidden", _("You may not do this."))
    item = get_scoped(who.user, JointTouch, joint_id)
    return _call(lambda: joint.joint_answer(actor=who.actor, joint=item, accept=payload.accept))


@router.post("/joint/{joint_id}/done", response={200: JointOut, **ERRORS})
def close_joint(request: HttpRequest, joint_id: int, payload: JointDoneIn) -> JointTouch:
    who = caller(request)
    if not who.can_write:
        raise ApiError(403, "forbidden", _("You may not do this."))
    item = get_scoped(who.user, JointTouch, joint_id)
    return _call(lambda: joint.joint_done(actor=who.actor, joint=item, note=payload.note))


@router.post("/insights", response={201: IdOut, **ERRORS})
def add_insight(request: HttpRequest, payload: InsightIn) -> Status[dict[str, int]]:
    who = caller(request)
    if not who.can_write:
        raise ApiError(403, "forbidden", _("You may not do this."))
    account = get_scoped(who.user, Account, payload.account_id)
    note = _call(lambda: joint.insight_add(actor=who.actor, account=account, text=payload.text))
    return Status(201, {"id": note.pk})


class HealthOut(Schema):
    days: int
    produced: int
    live: int
    used: int
    unused: int
    open_requests: int
    delivered: int
    turnaround_days: float | None
    unanswered: int
    insights: int
    joint_touches: int


@router.get("/health", response={200: HealthOut, **ERRORS})
def loop_health(request: HttpRequest) -> dict[str, Any]:
    """The health of the marketing-sales loop (the head's page, in numbers)."""
    who = _who(request, "view_loop_health")
    data = selectors.loop_health(who.user)
    return {**data, "joint_touches": sum(j["n"] for j in data["joint"])}
