"""API endpoints of leads: hand-offs (list, accept, reject), scores, lifecycle moves and
disputes (list, read, open, write, decide with its effect). Thin: parse, call a service,
render. Reads go through `scoped`: a record the caller cannot see is a 404; one they see but
may not change (a marketer and a hand-off) is a 403; a closed one is a 409."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from tandem.core.access import can, get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.crm.models import Account, Contact, LifecycleStage
from tandem.leads import disputes, selectors, services
from tandem.leads.models import (
    Dispute,
    DisputeOutcome,
    DisputeStatus,
    DisputeSubject,
    Handoff,
    HandoffStatus,
)
from tandem.leads.routing_api import router as routing_router
from tandem.sales.models import Deal

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
        if exc.code in ("wrong_state", "handoff_open", "customer"):
            raise ApiError(409, exc.code, exc.message) from exc
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


class HandoffByHandIn(Schema):
    note: str = Field("", max_length=1000, description="A note for the rep.")


@router.post("/contacts/{contact_id}/handoff", response={201: HandoffOut, **ERRORS})
def hand_off_contact(request: HttpRequest, contact_id: int, payload: HandoffByHandIn) -> Any:
    """Hand the contact to sales by hand ("Hand off to sales" on its page): moved to MQL when
    before it, routed to a rep, the SLA clock started. A contact with an open hand-off is a 409
    `handoff_open`, a customer a 409 `customer`; needs `hand_off_leads` (admin, head,
    marketer) and a token that may write."""
    who = caller(request)
    contact = get_scoped(who.user, Contact, contact_id)
    if not who.can_write or not can(who.user, "hand_off_leads"):
        raise ApiError(403, "forbidden", _("You may not hand contacts to sales."))
    handoff = _run(
        lambda: services.handoff_by_hand(actor=who.actor, contact=contact, note=payload.note)
    )
    return Status(201, handoff)


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


# --- disputes -------------------------------------------------------------------------------

RecordKind = Literal["contact", "account", "deal", "handoff"]
RECORD_MODELS: dict[str, type[Any]] = {
    "contact": Contact,
    "account": Account,
    "deal": Deal,
    "handoff": Handoff,
}


class DisputeMessageOut(Schema):
    id: int
    author_id: int
    body: str
    created_at: dt.datetime


class CreditAdjustmentOut(Schema):
    id: int
    deal_id: int
    shares: dict[str, float] = Field(description="Share of the deal per department (sum 1).")
    created_at: dt.datetime


class DisputeOut(Schema):
    id: int
    subject: DisputeSubject
    record_type: str = Field(description="app.model of the record, e.g. crm.contact")
    record_id: str
    record_label: str
    opened_by_id: int
    opened_at: dt.datetime
    summary: str
    status: DisputeStatus
    participant_ids: list[int]
    outcome: str = Field(description="upheld, dismissed or split once decided; else empty")
    decision: str
    decided_by_id: int | None
    decided_at: dt.datetime | None
    new_owner_id: int | None = Field(description="Whom an ownership decision gave the record.")
    credit_adjustments: list[CreditAdjustmentOut]
    messages: list[DisputeMessageOut]


class DisputeFilters(Schema):
    status: DisputeStatus | None = None
    limit: int = Field(50, ge=1, le=200)


class DisputeOpenIn(Schema):
    record_type: RecordKind = Field(description="What the dispute is about.")
    record_id: int = Field(ge=1)
    subject: DisputeSubject = Field(
        description="lead_quality (contact, hand-off), ownership (contact, account), "
        "deal_credit (deal), handoff (hand-off); another subject for the record is a 400."
    )
    summary: str = Field(min_length=1, max_length=500)
    body: str = Field("", max_length=5000, description="The first message; @username mentions.")


class DisputeMessageIn(Schema):
    body: str = Field(min_length=1, max_length=5000)


class DisputeDecideIn(Schema):
    outcome: DisputeOutcome
    decision: str = Field(min_length=1, max_length=5000)
    shares: dict[str, float] | None = Field(
        None,
        description="Credit disputes decided upheld or split: each department's share of the "
        "deal (marketing, sales, field, self_service; 0 to 1, summing to 1). Recorded as a "
        "credit adjustment that attribution reports show beside the model's credit.",
    )
    new_owner_id: int | None = Field(
        None,
        description="Ownership disputes decided upheld or split: the side (opener, participant "
        "or current owner) who owns the record now.",
    )


def dispute_out(dispute: Dispute) -> dict[str, Any]:
    return {
        "id": dispute.pk,
        "subject": dispute.subject,
        "record_type": f"{dispute.content_type.app_label}.{dispute.content_type.model}",
        "record_id": dispute.object_id,
        "record_label": dispute.target_label,
        "opened_by_id": dispute.opened_by_id,
        "opened_at": dispute.opened_at,
        "summary": dispute.summary,
        "status": dispute.status,
        "participant_ids": sorted(dispute.participants.values_list("pk", flat=True)),
        "outcome": dispute.outcome,
        "decision": dispute.decision,
        "decided_by_id": dispute.decided_by_id,
        "decided_at": dispute.decided_at,
        "new_owner_id": dispute.new_owner_id,
        "credit_adjustments": list(dispute.credit_adjustments.all()),
        "messages": list(dispute.messages.all()),
    }


@router.get("/disputes", response={200: list[DisputeOut], **ERRORS})
def list_disputes(request: HttpRequest, filters: Query[DisputeFilters]) -> list[dict[str, Any]]:
    """The disputes the caller sees (the head: all; others: those they opened or take part in)."""
    qs = scoped(caller(request).user, Dispute).select_related("content_type")
    if filters.status:
        qs = qs.filter(status=filters.status)
    return [dispute_out(d) for d in qs.order_by("-opened_at", "-id")[: filters.limit]]


@router.get("/disputes/{dispute_id}", response={200: DisputeOut, **ERRORS})
def get_dispute(request: HttpRequest, dispute_id: int) -> dict[str, Any]:
    return dispute_out(get_scoped(caller(request).user, Dispute, dispute_id))


@router.post("/disputes", response={201: DisputeOut, **ERRORS})
def open_dispute(request: HttpRequest, payload: DisputeOpenIn) -> Any:
    """Open a dispute about a record the caller sees (an unseen one is a 404); the subject must
    suit the record (400 `invalid` naming `subject`)."""
    who = caller(request)
    if not who.can_write:
        raise ApiError(403, "forbidden", _("You may not open disputes."))
    target = get_scoped(who.user, RECORD_MODELS[payload.record_type], payload.record_id)
    dispute = _run(
        lambda: disputes.dispute_open(
            actor=who.actor,
            subject=payload.subject,
            target=target,
            summary=payload.summary,
            body=payload.body,
        )
    )
    return Status(201, dispute_out(dispute))


@router.post("/disputes/{dispute_id}/messages", response={201: DisputeOut, **ERRORS})
def post_dispute_message(request: HttpRequest, dispute_id: int, payload: DisputeMessageIn) -> Any:
    who = caller(request)
    dispute = get_scoped(who.user, Dispute, dispute_id)
    if not who.can_write:
        raise ApiError(403, "forbidden", _("You may not write here."))
    _run(lambda: disputes.dispute_post(actor=who.actor, dispute=dispute, body=payload.body))
    return Status(201, dispute_out(dispute))


@router.post("/disputes/{dispute_id}/decide", response={200: DisputeOut, **ERRORS})
def decide_dispute(request: HttpRequest, dispute_id: int, payload: DisputeDecideIn) -> Any:
    """The head decides once (a second decision is a 409, anyone else a 403) and the decision
    takes effect in the same transaction: a credit adjustment (`shares`), a recycled lead
    (lead quality upheld) or a new owner (`new_owner_id`). Effect fields the subject or the
    outcome does not take, shares that do not sum to 1, or an owner who is not a side are a
    400 naming the field."""
    who = caller(request)
    dispute = get_scoped(who.user, Dispute, dispute_id)
    if not who.can_write or not who.user.sees_everything:
        raise ApiError(403, "forbidden", _("Only the head decides disputes."))
    new_owner = None
    if payload.new_owner_id is not None:
        new_owner = User.objects.filter(pk=payload.new_owner_id).first()
        if new_owner is None:
            raise InvalidInput({"new_owner_id": [_("No such user.")]})
    try:
        decided = _run(
            lambda: disputes.dispute_decide(
                actor=who.actor,
                dispute=dispute,
                outcome=payload.outcome,
                decision=payload.decision,
                shares=payload.shares,
                new_owner=new_owner,
            )
        )
    except InvalidInput as exc:
        if "new_owner" in exc.errors:
            exc.errors["new_owner_id"] = exc.errors.pop("new_owner")
        raise
    return dispute_out(decided)


router.add_router("", routing_router)
