"""API of sequences under /api/v1/sales: list and create sequences, replace their steps (a new
flow version), pause or resume, list a sequence's enrolments (its automation flow's), enrol
contacts and stop one. Thin: parse, call `tandem.sales.sequences`, render.

Invariants:
- every read starts from `scoped(caller, Sequence)`: an invisible sequence is a 404; changing
  one the caller sees but does not own (a teammate's) is a 403, as on the pages;
- enrolments are those of the sequence's flow whose contact the caller sees; each carries the
  link to its step history on the sales side (`history_url`), and to its page in the
  automation builder (`builder_url`) only for a caller with `view_automation` (else null).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.db.models import Count, Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import AfterValidator, ConfigDict, Field

from tandem.automation.models import Enrolment as FlowEnrolment
from tandem.core.access import can, get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.crm.models import Contact
from tandem.sales import sequences
from tandem.sales.models import Sequence

router = Router(tags=["sales"])

READ_ERRORS: dict[int, Any] = {400: Error, 401: Error, 404: Error, 429: Error}
WRITE_ERRORS: dict[int, Any] = {**READ_ERRORS, 403: Error, 413: Error, 415: Error}
RecordId = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("may not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


class StepIn(Input):
    kind: Literal["email", "call", "linkedin", "wait"]
    wait_days: int = Field(0, ge=0, le=365)
    subject: Text = Field("", max_length=200)
    body: Text = Field("", max_length=20000)


class SequenceIn(Input):
    name: Text = Field(min_length=1, max_length=200)
    steps: list[StepIn] = Field(min_length=1, max_length=sequences.MAX_STEPS)


class StepsIn(Input):
    steps: list[StepIn] = Field(min_length=1, max_length=sequences.MAX_STEPS)


class StatusIn(Input):
    active: bool


class EnrolIn(Input):
    contact_ids: list[RecordId] = Field(min_length=1, max_length=500)


class StepOut(Schema):
    kind: str
    wait_days: int
    subject: str
    body: str


class SequenceOut(Schema):
    id: int
    name: str
    active: bool
    owner_id: int | None
    flow_id: int | None
    version: int | None  # the flow's live version: what new enrolments take
    steps: list[StepOut]
    active_enrolments: int
    created_at: dt.datetime


class EnrolmentOut(Schema):
    id: int
    contact_id: int
    status: str
    step: int | None  # 1-based: the step it runs next (active), else None
    version: int
    next_run_at: dt.datetime | None
    enrolled_at: dt.datetime
    ended_at: dt.datetime | None
    exit_reason: str
    history_url: str  # the sales page of its step history
    builder_url: str | None  # its automation builder page; null without `view_automation`


def _sequences(who: ApiCaller) -> Any:
    return (
        scoped(who.user, Sequence)
        .select_related("flow__live_version")
        .prefetch_related("steps")
        .annotate(
            active_count=Count(
                "flow__enrolments",
                filter=Q(flow__enrolments__status="active", flow__enrolments__is_test=False),
            )
        )
        .order_by("name", "pk")
    )


def _sequence_out(sequence: Sequence) -> dict[str, Any]:
    flow = sequence.flow
    return {
        "id": sequence.pk,
        "name": sequence.name,
        "active": sequence.active,
        "owner_id": sequence.owner_id,
        "flow_id": sequence.flow_id,
        "version": flow.live_version.number if flow and flow.live_version else None,
        "steps": [
            {"kind": s.kind, "wait_days": s.wait_days, "subject": s.subject, "body": s.body}
            for s in sequence.steps.all()
        ],
        "active_enrolments": getattr(sequence, "active_count", 0),
        "created_at": sequence.created_at,
    }


def _enrolment_out(e: FlowEnrolment, sequence_id: int, who: ApiCaller) -> dict[str, Any]:
    step = int(e.node[1:]) if e.status == "active" and e.node[1:].isdigit() else None
    return {
        "id": e.pk,
        "contact_id": e.contact_id,
        "status": e.status,
        "step": step,
        "version": e.version.number,
        "next_run_at": e.next_run_at,
        "enrolled_at": e.enrolled_at,
        "ended_at": e.ended_at,
        "exit_reason": e.exit_reason,
        "history_url": reverse("sales:sequence_enrolment", args=[sequence_id, e.pk]),
        "builder_url": reverse("automation:enrolment", args=[e.pk])
        if can(who.user, "view_automation")
        else None,
    }


def _seller(who: ApiCaller) -> None:
    if not can(who.user, "sell"):
        raise ApiError(403, "forbidden", _("You may not change sequences."))


def _changeable(who: ApiCaller, sequence_id: int) -> Sequence:
    sequence = get_scoped(who.user, Sequence, sequence_id)
    if not scoped(who.user, Sequence, "change").filter(pk=sequence.pk).exists():
        raise ApiError(
            403,
            "forbidden",
            _("only the sequence's owner, a head of sales or an admin may enrol contacts"),
        )
    return sequence


@router.get("/sequences", response={200: list[SequenceOut], **READ_ERRORS})
def list_sequences(request: HttpRequest) -> list[dict[str, Any]]:
    """Sequences the caller sees (their own and their team's; every one for a head)."""
    return [_sequence_out(s) for s in _sequences(caller(request))[:500]]


@router.post("/sequences", response={201: SequenceOut, **WRITE_ERRORS})
def create_sequence(request: HttpRequest, payload: SequenceIn) -> Status[dict[str, Any]]:
    """A sequence and its automation flow, published: contacts may be enrolled at once."""
    who = caller(request)
    _seller(who)
    sequence = sequences.sequence_create(
        actor=who.actor, name=payload.name, steps=[s.model_dump() for s in payload.steps]
    )
    return Status(201, _sequence_out(_sequences(who).get(pk=sequence.pk)))


@router.get("/sequences/{sequence_id}", response={200: SequenceOut, **READ_ERRORS})
def get_sequence(request: HttpRequest, sequence_id: RecordId) -> dict[str, Any]:
    return _sequence_out(get_object_or_404(_sequences(caller(request)), pk=sequence_id))


@router.put("/sequences/{sequence_id}/steps", response={200: SequenceOut, **WRITE_ERRORS})
def replace_steps(request: HttpRequest, sequence_id: RecordId, payload: StepsIn) -> dict[str, Any]:
    """New steps, published as the flow's next version; running enrolments keep theirs."""
    who = caller(request)
    sequence = _changeable(who, sequence_id)
    sequences.sequence_steps_update(
        actor=who.actor, sequence=sequence, steps=[s.model_dump() for s in payload.steps]
    )
    return _sequence_out(_sequences(who).get(pk=sequence_id))


@router.post("/sequences/{sequence_id}/status", response={200: SequenceOut, **WRITE_ERRORS})
def set_status(request: HttpRequest, sequence_id: RecordId, payload: StatusIn) -> dict[str, Any]:
    """Pause (`active: false`: nobody new is enrolled, running enrolments go on) or resume."""
    who = caller(request)
    sequence = _changeable(who, sequence_id)
    sequences.sequence_set_active(actor=who.actor, sequence=sequence, active=payload.active)
    return _sequence_out(_sequences(who).get(pk=sequence_id))


def _enrolments(who: ApiCaller, sequence: Sequence) -> Any:
    visible = scoped(who.user, Contact).values("pk")
    return (
        sequences.sequence_enrolments(sequence)
        .filter(contact_id__in=visible)
        .select_related("version")
    )


@router.get(
    "/sequences/{sequence_id}/enrolments", response={200: list[EnrolmentOut], **READ_ERRORS}
)
def list_enrolments(request: HttpRequest, sequence_id: RecordId) -> list[dict[str, Any]]:
    """The sequence's enrolments (its flow's) whose contact the caller sees, newest first."""
    who = caller(request)
    sequence = get_scoped(who.user, Sequence, sequence_id)
    return [_enrolment_out(e, sequence.pk, who) for e in _enrolments(who, sequence)[:500]]


@router.post(
    "/sequences/{sequence_id}/enrolments", response={201: list[EnrolmentOut], **WRITE_ERRORS}
)
def enrol(
    request: HttpRequest, sequence_id: RecordId, payload: EnrolIn
) -> Status[list[dict[str, Any]]]:
    """Enrol contacts the caller sees; those already running the sequence are left out of the
    answer (nothing changes for them)."""
    who = caller(request)
    sequence = _changeable(who, sequence_id)
    created = sequences.sequence_enrol(
        actor=who.actor, sequence=sequence, contact_ids=payload.contact_ids
    )
    rows = _enrolments(who, sequence).filter(pk__in=[e.pk for e in created])
    return Status(201, [_enrolment_out(e, sequence.pk, who) for e in rows])


@router.post(
    "/sequence-enrolments/{enrolment_id}/stop", response={200: EnrolmentOut, **WRITE_ERRORS}
)
def stop(request: HttpRequest, enrolment_id: RecordId) -> dict[str, Any]:
    """Stop one contact's run of a sequence the caller sees (no later step runs)."""
    who = caller(request)
    _seller(who)
    enrolment = get_object_or_404(
        FlowEnrolment.objects.filter(
            flow__sequence__in=scoped(who.user, Sequence),
            contact_id__in=scoped(who.user, Contact).values("pk"),
        ).select_related("version", "flow__sequence"),
        pk=enrolment_id,
    )
    sequence_id = enrolment.flow.sequence.pk
    sequences.enrolment_stop(actor=who.actor, enrolment=enrolment)
    enrolment.refresh_from_db()
    return _enrolment_out(enrolment, sequence_id, who)
