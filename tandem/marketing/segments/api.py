"""API of segments: list, create, live count, members of static lists, reactions, and the
segment event feed automation reads (entered/left, by id cursor). Thin; reads go through
`scoped`, so a rep's token sees no segments (404 for one by id) and is refused writes (403).
Mounted by `tandem.marketing.api`; operation ids are kept from when one module held them all."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from tandem.core.access import get_scoped, scoped
from tandem.core.api_auth import caller
from tandem.core.api_errors import ApiError, Error
from tandem.marketing.scopes import api_marketer
from tandem.marketing.segments import members as segment_members
from tandem.marketing.segments import reactions as segment_reactions
from tandem.marketing.segments import services as seg
from tandem.marketing.segments.models import Segment, SegmentEvent, SegmentReaction
from tandem.sales.models import Sequence

router = Router(tags=["marketing"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


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


@router.get(
    "/segments",
    response={200: list[SegmentOut], **ERRORS},
    operation_id="tandem_marketing_api_list_segments",
)
def list_segments(request: HttpRequest) -> list[Segment]:
    return list(scoped(caller(request).user, Segment).order_by("name", "id")[:500])


@router.post(
    "/segments",
    response={201: SegmentOut, **ERRORS},
    operation_id="tandem_marketing_api_create_segment",
)
def create_segment(request: HttpRequest, payload: SegmentIn) -> tuple[int, Segment]:
    who = api_marketer(request, write=True)
    segment = seg.segment_create(
        actor=who.actor, name=payload.name, kind=payload.kind, definition=payload.definition
    )
    return 201, segment


@router.post(
    "/segments/count",
    response={200: CountOut, **ERRORS},
    operation_id="tandem_marketing_api_count_definition",
)
def count_definition(request: HttpRequest, payload: CountIn) -> dict[str, int]:
    who = api_marketer(request)
    return {"count": seg.definition_count(user=who.user, definition=payload.definition)}


@router.get(
    "/segments/{segment_id}",
    response={200: SegmentOut, **ERRORS},
    operation_id="tandem_marketing_api_get_segment",
)
def get_segment(request: HttpRequest, segment_id: int) -> Segment:
    return get_scoped(caller(request).user, Segment, segment_id)


@router.get(
    "/segment-events",
    response={200: list[EventOut], **ERRORS},
    operation_id="tandem_marketing_api_segment_events",
)
def segment_events(request: HttpRequest, filters: Query[EventFilters]) -> list[SegmentEvent]:
    user = caller(request).user
    return list(
        scoped(user, SegmentEvent).filter(pk__gt=filters.after_id).order_by("pk")[: filters.limit]
    )


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


@router.post(
    "/segments/{segment_id}/members",
    response={200: MembersOut, **ERRORS},
    operation_id="tandem_marketing_api_add_members",
)
def add_members(request: HttpRequest, segment_id: int, payload: MembersIn) -> Any:
    """Add contacts to a static list (at most 10,000 ids; idempotent)."""
    return _members_change(request, segment_id, payload.contact_ids, add=True)


@router.delete(
    "/segments/{segment_id}/members",
    response={200: MembersOut, **ERRORS},
    operation_id="tandem_marketing_api_remove_members",
)
def remove_members(request: HttpRequest, segment_id: int, payload: MembersIn) -> Any:
    """Remove contacts from a static list (at most 10,000 ids; idempotent)."""
    return _members_change(request, segment_id, payload.contact_ids, add=False)


@router.get(
    "/segments/{segment_id}/reactions",
    response={200: list[ReactionOut], **ERRORS},
    operation_id="tandem_marketing_api_list_reactions",
)
def list_reactions(request: HttpRequest, segment_id: int) -> list[SegmentReaction]:
    user = caller(request).user
    segment = get_scoped(user, Segment, segment_id)
    return list(scoped(user, SegmentReaction).filter(segment=segment).order_by("pk"))


@router.post(
    "/segments/{segment_id}/reactions",
    response={201: ReactionCreatedOut, **ERRORS},
    operation_id="tandem_marketing_api_create_reaction",
)
def create_reaction(request: HttpRequest, segment_id: int, payload: ReactionIn) -> Any:
    """A webhook; its `secret` is in this answer only. The kind "sequence" is refused (400,
    code `use_flow`): enrolling who enters a segment in a sequence is an automation flow
    (POST /automation/flows with the trigger `segment_entered` and a `start_flow` step into
    the sequence's flow), which the segment's page makes in one click."""
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


@router.delete(
    "/segments/{segment_id}/reactions/{reaction_id}",
    response={204: None, **ERRORS},
    operation_id="tandem_marketing_api_delete_reaction",
)
def delete_reaction(request: HttpRequest, segment_id: int, reaction_id: int) -> Status[None]:
    who = api_marketer(request, write=True)
    reaction = get_scoped(who.user, SegmentReaction, reaction_id)
    if reaction.segment_id != segment_id:
        raise ApiError(404, "not_found", _("No such record."))
    segment_reactions.reaction_delete(actor=who.actor, reaction=reaction)
    return Status(204, None)
