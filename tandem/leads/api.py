"""API endpoints of leads: hand-offs (list, accept, reject) and scores. Thin: parse, call a
service, render. Reads go through `scoped`: a hand-off the caller cannot see is a 404; one they
see but may not change (a marketer) is a 403; a closed one is a 409."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from tandem.core.access import get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact, LifecycleStage
from tandem.leads import selectors, services
from tandem.leads.models import Handoff, HandoffStatus

router = Router(tags=["leads"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 429: Error}
T = TypeVar("T")


class HandoffOut(Schema):
    id: int
    contact_id: int
    trigger: str
    status: str
    assigned_to_id: int | None
    routed_by: str
    created_at: dt.datetime
    accept_due_at: dt.datetime | None
    accepted_at: dt.datetime | None
    first_contact_due_at: dt.datetime | None
    contacted_at: dt.datetime | None
    rejection_reason: str
    rejection_note: str
    rejection_outcome: str
    breaches: int


class HandoffFilters(Schema):
    status: HandoffStatus | None = None
    limit: int = Field(50, ge=1, le=200)


class RejectIn(Schema):
    reason: str = Field(max_length=20)
    note: str = Field("", max_length=1000)
    outcome: Literal["recycle", "disqualify"] = "recycle"


class Reason(Schema):
    feature: str
    label: str
    value: float
    effect: float


class ScoreOut(Schema):
    scoring_model_id: int
    product_line: str
    fit: float
    engagement: float
    total: float
    mql_threshold: float
    probability: float | None
    model_auc: float | None = Field(
        None, description="Test-set AUC of the current predictive model (time-based split)"
    )
    computed_at: dt.datetime
    reasons: list[Reason]


def _write(request: HttpRequest, handoff_id: int) -> tuple[ApiCaller, Handoff]:
    who = caller(request)
    handoff = get_scoped(who.user, Handoff, handoff_id)
    if not who.can_write or not scoped(who.user, Handoff, "change").filter(pk=handoff.pk):
        raise ApiError(403, "forbidden", _("You may not change this hand-off."))
    return who, handoff


def _run(call: Callable[[], T]) -> T:
    try:
        return call()
    except InvalidInput as exc:
        if exc.code == "forbidden":
            raise ApiError(403, "forbidden", exc.message) from exc
        if exc.code == "wrong_state":
            raise ApiError(409, "wrong_state", exc.message) from exc
        raise


@router.get("/handoffs", response={200: list[HandoffOut], **ERRORS})
def list_handoffs(request: HttpRequest, filters: Query[HandoffFilters]) -> list[Handoff]:
    qs = scoped(caller(request).user, Handoff)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return list(qs.order_by("-created_at", "-id")[: filters.limit])


@router.get("/handoffs/{handoff_id}", response={200: HandoffOut, **ERRORS})
def get_handoff(request: HttpRequest, handoff_id: int) -> Handoff:
    return get_scoped(caller(request).user, Handoff, handoff_id)


@router.post("/handoffs/{handoff_id}/accept", response={200: HandoffOut, **ERRORS})
def accept_handoff(request: HttpRequest, handoff_id: int) -> Handoff:
    who, handoff = _write(request, handoff_id)
    return _run(lambda: services.handoff_accept(actor=who.actor, handoff=handoff))


@router.post("/handoffs/{handoff_id}/reject", response={200: HandoffOut, **ERRORS})
def reject_handoff(request: HttpRequest, handoff_id: int, payload: RejectIn) -> Handoff:
    who, handoff = _write(request, handoff_id)
    return _run(
        lambda: services.handoff_reject(
            actor=who.actor,
            handoff=handoff,
            reason=payload.reason,
            note=payload.note,
            outcome=payload.outcome,
        )
    )


@router.get("/contacts/{contact_id}/scores", response={200: list[ScoreOut], **ERRORS})
def contact_scores(request: HttpRequest, contact_id: int) -> list[dict[str, Any]]:
    user = caller(request).user
    return selectors.contact_scores(user, get_scoped(user, Contact, contact_id))


class LifecycleMoveIn(Schema):
    stage: LifecycleStage
    reason: str = Field(min_length=1, max_length=500, description="Why the stage changes.")


class LifecycleOut(Schema):
    contact_id: int
    lifecycle_stage: str
    moved: bool = Field(description="False when the contact was in that stage already.")


@router.post("/contacts/{contact_id}/lifecycle", response={200: LifecycleOut, **ERRORS})
def move_contact_stage(request: HttpRequest, contact_id: int, payload: LifecycleMoveIn) -> Any:
    """Move the contact to another lifecycle stage: the one way to change `lifecycle_stage`
    (`PATCH /contacts/{id}` refuses it). Writes the stage history and a "lifecycle" touchpoint
    with the reason; a move the lifecycle does not allow (e.g. customer to subscriber) is a 400
    `transition_not_allowed`."""
    who = caller(request)
    contact = get_scoped(who.user, Contact, contact_id)
    if not who.can_write or not scoped(who.user, Contact, "change").filter(pk=contact.pk):
        raise ApiError(403, "forbidden", _("You may not change this contact."))
    moved = services.lifecycle_move(
        actor=who.actor, contact=contact, stage=payload.stage, reason=payload.reason
    )
    return {"contact_id": contact.pk, "lifecycle_stage": contact.lifecycle_stage, "moved": moved}
