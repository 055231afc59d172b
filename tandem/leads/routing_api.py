"""API operations of the lead routing settings under /api/v1/leads: the hand-off policy,
MQL targets, territories and rep capacity. Thin: parse, call `tandem.leads.handoff_rules`,
render.

Invariants: every operation, reads included, needs the `manage_lead_routing` capability (403
`forbidden` without it); a missing territory is a 404; bad input a 400 naming the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from tandem.core.access import can
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.api_fields import UNCHANGED, drop_null_defaults
from tandem.leads import handoff_rules
from tandem.leads.models import HandoffPolicy, MqlTarget, RepCapacity, Territory

router = Router(tags=["leads routing"])
ERRORS: dict[int, Any] = {
    400: Error,
    401: Error,
    403: Error,
    404: Error,
    413: Error,
    415: Error,
    429: Error,
}
MAX_ID = 2**63 - 1
UserId = Annotated[int, Field(ge=1, le=MAX_ID)]
Hours = Annotated[float, Field(gt=0, le=720)]
Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


class PolicyIn(Input):
    accept_within_hours: Hours
    first_contact_within_hours: Hours
    max_escalations: Annotated[int, Field(ge=0, le=20)]


class PolicyOut(Schema):
    accept_within_hours: float
    first_contact_within_hours: float
    max_escalations: int


class TargetIn(Input):
    target: Annotated[int, Field(ge=0, le=1_000_000)]


class TargetOut(Schema):
    month: str
    target: int

    @staticmethod
    def resolve_month(obj: MqlTarget) -> str:
        return f"{obj.month:%Y-%m}"


class TerritoryIn(Input):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]
    region: Annotated[str, Field(max_length=100, pattern=r"^[^\x00]*$")] = ""
    industry: Annotated[str, Field(max_length=20)] = ""
    head_id: UserId | None = None
    member_ids: Annotated[list[UserId], Field(max_length=500)] = []


class TerritoryPatch(Input):
    """Only the fields sent change; `head_id: null` clears the head, no other field takes null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=drop_null_defaults)

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")] = UNCHANGED
    region: Annotated[str, Field(max_length=100, pattern=r"^[^\x00]*$")] = UNCHANGED
    industry: Annotated[str, Field(max_length=20)] = UNCHANGED
    head_id: UserId | None = None
    member_ids: Annotated[list[UserId], Field(max_length=500)] = UNCHANGED


class TerritoryOut(Schema):
    id: int
    name: str
    region: str
    industry: str
    head_id: int | None
    member_ids: list[int]

    @staticmethod
    def resolve_member_ids(obj: Territory) -> list[int]:
        return sorted(user.pk for user in obj.members.all())


class CapacityIn(Input):
    weight: Annotated[int, Field(ge=0, le=100)] = 1
    capacity: Annotated[int, Field(ge=0, le=10_000)] = 20
    is_available: bool = True


class CapacityOut(Schema):
    user_id: int
    weight: int
    capacity: int
    open_count: int
    is_available: bool


def _manager(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "manage_lead_routing"):
        raise ApiError(403, "forbidden", _("You may not change lead routing."))
    return who


def _month(text: str) -> dt.date:
    """The first day of a YYYY-MM month; a 400 naming the field for one that does not exist
    (month 13, year 0)."""
    try:
        return dt.date(int(text[:4]), int(text[5:7]), 1)
    except ValueError:
        raise ApiError(
            400, "invalid", _("Not a month: %(v)s") % {"v": text[:20]}, {"month": ["not a month"]}
        ) from None


@router.get("/handoff-policy", response={200: PolicyOut, **ERRORS})
def get_policy(request: HttpRequest) -> HandoffPolicy:
    _manager(request)
    return HandoffPolicy.current()


@router.put("/handoff-policy", response={200: PolicyOut, **ERRORS})
def set_policy(request: HttpRequest, payload: PolicyIn) -> HandoffPolicy:
    """The SLA in business hours; the next hand-off routed gets its deadlines from it."""
    who = _manager(request)
    return handoff_rules.handoff_policy_set(actor=who.actor, **payload.model_dump())


@router.get("/mql-targets", response={200: list[TargetOut], **ERRORS})
def list_targets(request: HttpRequest) -> list[MqlTarget]:
    _manager(request)
    return list(MqlTarget.objects.order_by("-month"))


@router.put("/mql-targets/{month}", response={200: TargetOut, **ERRORS})
def set_target(request: HttpRequest, month: Month, payload: TargetIn) -> MqlTarget:
    who = _manager(request)
    return handoff_rules.mql_target_set(actor=who.actor, month=_month(month), target=payload.target)


@router.delete("/mql-targets/{month}", response={204: None, **ERRORS})
def remove_target(request: HttpRequest, month: Month) -> Any:
    who = _manager(request)
    if not handoff_rules.mql_target_remove(actor=who.actor, month=_month(month)):
        raise ApiError(404, "not_found", _("No such record."))
    return Status(204, None)


def _territories() -> Any:
    return Territory.objects.prefetch_related("members").order_by("name")


@router.get("/territories", response={200: list[TerritoryOut], **ERRORS})
def list_territories(request: HttpRequest) -> list[Territory]:
    _manager(request)
    return list(_territories())


@router.post("/territories", response={201: TerritoryOut, **ERRORS})
def create_territory(request: HttpRequest, payload: TerritoryIn) -> Status[Territory]:
    who = _manager(request)
    territory = handoff_rules.territory_create(actor=who.actor, **payload.model_dump())
    return Status(201, _territories().get(pk=territory.pk))


@router.patch("/territories/{territory_id}", response={200: TerritoryOut, **ERRORS})
def update_territory(
    request: HttpRequest, territory_id: UserId, payload: TerritoryPatch
) -> Territory:
    """Change a territory; `member_ids` replaces its reps; `head_id: null` clears the head."""
    who = _manager(request)
    territory = get_object_or_404(Territory, pk=territory_id)
    data = payload.model_dump(exclude_unset=True)
    handoff_rules.territory_update(actor=who.actor, territory_id=territory.pk, **data)
    return _territories().get(pk=territory.pk)


@router.delete("/territories/{territory_id}", response={204: None, **ERRORS})
def delete_territory(request: HttpRequest, territory_id: UserId) -> Any:
    who = _manager(request)
    territory = get_object_or_404(Territory, pk=territory_id)
    handoff_rules.territory_delete(actor=who.actor, territory_id=territory.pk)
    return Status(204, None)


@router.get("/rep-capacities", response={200: list[CapacityOut], **ERRORS})
def list_capacities(request: HttpRequest) -> list[RepCapacity]:
    _manager(request)
    return list(RepCapacity.objects.order_by("user_id"))


@router.put("/rep-capacities/{user_id}", response={200: CapacityOut, **ERRORS})
def set_capacity(request: HttpRequest, user_id: UserId, payload: CapacityIn) -> RepCapacity:
    """A sales rep's round-robin weight, capacity (open hand-offs at most) and availability."""
    who = _manager(request)
    return handoff_rules.rep_capacity_set(actor=who.actor, user_id=user_id, **payload.model_dump())
