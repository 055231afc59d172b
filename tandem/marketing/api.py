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
from tandem.marketing.scopes import api_marketer
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


@router.get("/segments", response={200: list[SegmentOut], **ERRORS})
def list_segments(request: HttpRequest) -> list[Segment]:
    return list(scoped(caller(request).user, Segment).order_by("name", "id")[:500])


@router.post("/segments", response={201: SegmentOut, **ERRORS})
def create_segment(request: HttpRequest, payload: SegmentIn) -> tuple[int, Segment]:
    who = api_marketer(request, write=True)
    segment = seg.segment_create(
        actor=who.actor, name=payload.name, kind=payload.kind, definition=payload.definition
    )
    return 201, segment


@router.post("/segments/count", response={200: CountOut, **ERRORS})
def count_definition(request: HttpRequest, payload: CountIn) -> dict[str, int]:
    who = api_marketer(request)
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
from tandem.marketing.campaigns.models import Campaign  # noqa: E402
from tandem.marketing.campaigns.report import campaign_report  # noqa: E402
from tandem.marketing.content import services as content_services  # noqa: E402
from tandem.marketing.content.models import ContentAsset  # noqa: E402


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
    who = api_marketer(request, write=True)
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


# --- subscription types, subscribing, static list members, reactions (issue 6, points 2, 4) --

from django.conf import settings  # noqa: E402
from pydantic import ConfigDict  # noqa: E402

from tandem.core.api_pagination import keyset_page  # noqa: E402
from tandem.crm.validation import clean_email  # noqa: E402
from tandem.marketing.email import message as email_message  # noqa: E402
from tandem.marketing.models import SegmentReaction, SubscriptionType  # noqa: E402
from tandem.marketing.segments import members as segment_members  # noqa: E402
from tandem.marketing.segments import reactions as segment_reactions  # noqa: E402
from tandem.marketing.subscriptions import services as subscriptions  # noqa: E402
from tandem.sales.models import Sequence  # noqa: E402


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class SubscriptionTypeOut(Schema):
    id: int
    key: str
    name: str
    description: str
    wording: str
    wording_version: str
    double_opt_in: bool
    active: bool
    created_at: dt.datetime


class SubscriptionTypePage(Schema):
    items: list[SubscriptionTypeOut]
    next_cursor: str | None


class SubscriptionTypeFilters(Schema):
    include_archived: bool = False
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=200)


class SubscriptionTypeIn(_Strict):
    key: str = Field(max_length=50)
    name: str = Field(max_length=100)
    description: str = Field("", max_length=300)
    wording: str = Field("", max_length=5000)
    wording_version: str = Field("1", max_length=40)
    double_opt_in: bool = True
    active: bool = True


class SubscriptionTypePatch(_Strict):
    key: str | None = Field(None, max_length=50)
    name: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=300)
    wording: str | None = Field(None, max_length=5000)
    wording_version: str | None = Field(None, max_length=40)
    double_opt_in: bool | None = None
    active: bool | None = None


class SubscribeIn(_Strict):
    contact_id: int | None = Field(None, ge=1)
    email: str | None = Field(None, max_length=254)
    wording_version: str = Field(max_length=40)


class UnsubscribeIn(_Strict):
    contact_id: int | None = Field(None, ge=1)
    email: str | None = Field(None, max_length=254)


class SubscriptionOut(Schema):
    contact_id: int
    subscription: str
    state: str
    changed: bool
    confirmation_sent: bool
    record_id: int | None


class MembersIn(_Strict):
    contact_ids: list[Any] = Field(max_length=segment_members.MAX_IDS + 1)


class MembersOut(Schema):
    segment_id: int
    changed: int
    unchanged: int
    member_count: int


class ReactionIn(_Strict):
    kind: str = Field(max_length=10)
    on_entered: bool = True
    on_left: bool = False
    sequence_id: int | None = Field(None, ge=1)
    url: str = Field("", max_length=500)


class ReactionOut(Schema):
    id: int
    segment_id: int
    kind: str
    on_entered: bool
    on_left: bool
    sequence_id: int | None
    url: str
    active: bool
    created_at: dt.datetime


class ReactionCreatedOut(ReactionOut):
    secret: str  # the webhook's signing secret: shown in this answer only


def _type_by_key(user: Any, key: str) -> SubscriptionType:
    found = scoped(user, SubscriptionType).filter(key=key).first()
    if found is None:
        raise ApiError(404, "not_found", _("No such subscription type."))
    return found


@router.get("/subscription-types", response={200: SubscriptionTypePage, **ERRORS})
def list_subscription_types(
    request: HttpRequest, filters: Query[SubscriptionTypeFilters]
) -> dict[str, Any]:
    """Subscription types, newest first (archived ones with `include_archived=true`)."""
    qs = scoped(caller(request).user, SubscriptionType)
    if not filters.include_archived:
        qs = qs.filter(active=True)
    rows, cursor = keyset_page(
        qs,
        kind="subscription_types",
        time_field="created_at",
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"items": rows, "next_cursor": cursor}


@router.post("/subscription-types", response={201: SubscriptionTypeOut, **ERRORS})
def create_subscription_type(
    request: HttpRequest, payload: SubscriptionTypeIn
) -> Status[SubscriptionType]:
    who = api_marketer(request, write=True)
    return Status(201, subscriptions.type_create(actor=who.actor, **payload.model_dump()))


@router.get("/subscription-types/{key}", response={200: SubscriptionTypeOut, **ERRORS})
def get_subscription_type(request: HttpRequest, key: str) -> SubscriptionType:
    return _type_by_key(caller(request).user, key)


@router.patch("/subscription-types/{key}", response={200: SubscriptionTypeOut, **ERRORS})
def update_subscription_type(
    request: HttpRequest, key: str, payload: SubscriptionTypePatch
) -> SubscriptionType:
    """Fields sent are changed, others kept; the key is fixed once consent records use it."""
    who = api_marketer(request, write=True)
    data = payload.model_dump(exclude_unset=True)
    nulls = sorted(name for name, value in data.items() if value is None)
    if nulls:
        raise InvalidInput({name: [_("may not be null")] for name in nulls})
    subscription = _type_by_key(who.user, key)
    return subscriptions.type_update(actor=who.actor, subscription=subscription, **data)


def _contact_for(who: ApiCaller, contact_id: int | None, email: str | None) -> Contact:
    if (contact_id is None) == (email is None):
        raise InvalidInput({"contact_id": [_("Give either contact_id or email.")]})
    if contact_id is not None:
        return get_scoped(who.user, Contact, contact_id)
    try:
        address = clean_email(email or "")
    except ValueError:
        raise InvalidInput({"email": [_("Enter a valid email address.")]}) from None
    found = scoped(who.user, Contact).filter(email=address).order_by("pk").first()
    if found is None:
        raise ApiError(404, "not_found", _("No contact has this email address."))
    return found


def _client_of(request: HttpRequest) -> dict[str, str]:
    return {
        "ip": request.META.get("REMOTE_ADDR", ""),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:500],
    }


def _confirm_base(request: HttpRequest) -> str:
    if getattr(settings, "TANDEM_BASE_URL", None) or email_message.setting("TANDEM_BASE_URL"):
        return email_message.base_url() + "/e/confirm/"
    return request.build_absolute_uri("/e/confirm/")


@router.post("/subscriptions/{key}/subscribe", response={200: SubscriptionOut, **ERRORS})
def subscribe(request: HttpRequest, key: str, payload: SubscribeIn) -> dict[str, Any]:
    """Subscribe a contact (source "api"). With the type's double opt-in the state is "pending"
    and the confirmation email is sent; already subscribed: nothing is appended."""
    who = api_marketer(request, write=True)
    subscription = _type_by_key(who.user, key)
    contact = _contact_for(who, payload.contact_id, payload.email)
    change = subscriptions.subscribe_contact(
        actor=who.actor,
        subscription=subscription,
        contact=contact,
        wording_version=payload.wording_version,
        confirm_base=_confirm_base(request),
        **_client_of(request),
    )
    return {"contact_id": contact.pk, "subscription": subscription.key, **change.__dict__}


@router.post("/subscriptions/{key}/unsubscribe", response={200: SubscriptionOut, **ERRORS})
def unsubscribe(request: HttpRequest, key: str, payload: UnsubscribeIn) -> dict[str, Any]:
    """Withdraw a contact's consent for the type (source "api"); idempotent."""
    who = api_marketer(request, write=True)
    subscription = _type_by_key(who.user, key)
    contact = _contact_for(who, payload.contact_id, payload.email)
    change = subscriptions.unsubscribe_contact(
        actor=who.actor, subscription=subscription, contact=contact, **_client_of(request)
    )
    return {"contact_id": contact.pk, "subscription": subscription.key, **change.__dict__}


def _members_change(request: HttpRequest, segment_id: int, ids: list[Any], add: bool) -> Any:
    who = api_marketer(request, write=True)
    segment = get_scoped(who.user, Segment, segment_id)
    service = segment_members.members_add if add else segment_members.members_remove
    try:
        change = service(actor=who.actor, segment=segment, contact_ids=ids)
    except segment_members.ContactsNotVisible as exc:
        raise ApiError(
            404, "not_found", _("No such contact."), {"contact_ids": exc.missing[:100]}
        ) from None
    segment.refresh_from_db(fields=["member_count"])
    return {
        "segment_id": segment.pk,
        "changed": change.changed,
        "unchanged": change.unchanged,
        "member_count": segment.member_count,
    }


@router.post("/segments/{segment_id}/members", response={200: MembersOut, **ERRORS})
def add_members(request: HttpRequest, segment_id: int, payload: MembersIn) -> Any:
    """Add contacts to a static list (at most 10,000 ids; idempotent)."""
    return _members_change(request, segment_id, payload.contact_ids, add=True)


@router.delete("/segments/{segment_id}/members", response={200: MembersOut, **ERRORS})
def remove_members(request: HttpRequest, segment_id: int, payload: MembersIn) -> Any:
    """Remove contacts from a static list (at most 10,000 ids; idempotent)."""
    return _members_change(request, segment_id, payload.contact_ids, add=False)


@router.get("/segments/{segment_id}/reactions", response={200: list[ReactionOut], **ERRORS})
def list_reactions(request: HttpRequest, segment_id: int) -> list[SegmentReaction]:
    user = caller(request).user
    segment = get_scoped(user, Segment, segment_id)
    return list(scoped(user, SegmentReaction).filter(segment=segment).order_by("pk"))


@router.post("/segments/{segment_id}/reactions", response={201: ReactionCreatedOut, **ERRORS})
def create_reaction(request: HttpRequest, segment_id: int, payload: ReactionIn) -> Any:
    """A sequence enrolment or a webhook; a webhook's `secret` is in this answer only."""
    who = api_marketer(request, write=True)
    segment = get_scoped(who.user, Segment, segment_id)
    sequence = (
        get_scoped(who.user, Sequence, payload.sequence_id)
        if payload.sequence_id is not None
        else None
    )
    created = segment_reactions.reaction_create(
        actor=who.actor,
        segment=segment,
        kind=payload.kind,
        on_entered=payload.on_entered,
        on_left=payload.on_left,
        sequence=sequence,
        url=payload.url,
    )
    reaction = created.reaction
    return Status(201, {**ReactionOut.from_orm(reaction).dict(), "secret": created.secret})


@router.delete("/segments/{segment_id}/reactions/{reaction_id}", response={204: None, **ERRORS})
def delete_reaction(request: HttpRequest, segment_id: int, reaction_id: int) -> Status[None]:
    who = api_marketer(request, write=True)
    reaction = get_scoped(who.user, SegmentReaction, reaction_id)
    if reaction.segment_id != segment_id:
        raise ApiError(404, "not_found", _("No such record."))
    segment_reactions.reaction_delete(actor=who.actor, reaction=reaction)
    return Status(204, None)
