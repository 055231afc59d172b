"""The automation operations under /api/v1/automation (mounted in config/api.py): flows, their
graph (saved as a draft, validated), publishing, status, test enrolment, enrolments and their
history, the lift report, the rules across flows, and the incoming signed webhook trigger.

Invariants: reads need `view_automation`, writes `manage_automation` and a write token (403
`forbidden`); a broken graph is a 400 with one message per problem under `graph`; enrolments
and contacts are only those the caller may see (others are 404). A flow another app keeps
(`managed_by`: a sales sequence's) is read-only here: changing its graph, publishing it, its
status or its settings is a 400 `owned_elsewhere` (edit the sequence's steps instead). The
incoming webhook needs no token: it must be signed per Standard Webhooks with the flow's
secret (`webhook-id`, `webhook-timestamp` within 5 minutes, `webhook-signature`;
tandem.core.webhooks.verify; 401 otherwise), and is idempotent per event `id`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from tandem.automation import graph as g
from tandem.automation import lift, selectors, services
from tandem.automation.library import TEMPLATES
from tandem.automation.models import Enrolment, Flow, FlowStatus, Policy, Reentry
from tandem.core import webhooks
from tandem.core.access import can, scoped
from tandem.core.api_auth import ApiCaller, caller, check_rate_limit
from tandem.core.api_errors import ApiError, Error
from tandem.crm.models import Contact

router = Router(tags=["automation"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


class FlowIn(Input):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=5000)] = ""
    template: Annotated[str, Field(max_length=40)] | None = None
    graph: dict[str, Any] | None = None
    reentry: Annotated[str, Field(max_length=12)] = Reentry.ONCE
    holdout_percent: Annotated[int, Field(ge=0, le=50)] = 0


class SettingsIn(Input):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=5000)] = ""
    reentry: Annotated[str, Field(max_length=12)]
    holdout_percent: Annotated[int, Field(ge=0, le=50)]


class GraphIn(Input):
    graph: dict[str, Any]


class StatusIn(Input):
    status: Annotated[str, Field(max_length=10)]


class TestEnrolIn(Input):
    contact_id: Id


class PolicyIn(Input):
    emails_per_window: Annotated[int, Field(ge=1, le=100)]
    window_days: Annotated[int, Field(ge=1, le=90)]
    quiet_start: Annotated[int, Field(ge=0, le=23)]
    quiet_end: Annotated[int, Field(ge=0, le=23)]


class PolicyOut(Schema):
    emails_per_window: int
    window_days: int
    quiet_start: int
    quiet_end: int


class FlowOut(Schema):
    id: int
    name: str
    description: str
    status: str
    reentry: str
    holdout_percent: int
    live_version: int | None
    managed_by: str = Field(
        description="Set (`sales.sequence`) when another app keeps the flow's definition: its "
        "graph, publishing, status and settings are then refused here (400 `owned_elsewhere`)."
    )

    @staticmethod
    def resolve_live_version(obj: Flow | dict[str, Any]) -> int | None:
        if isinstance(obj, dict):
            return obj.get("live_version")  # a detail built by _detail: the number already
        return obj.live_version.number if obj.live_version else None


class StepCount(Schema):
    step: str
    entered: int
    converted: int


class FlowDetailOut(FlowOut):
    draft_version: int | None
    graph: dict[str, Any]
    enrolments: dict[str, int]
    steps: list[StepCount]


class VersionOut(Schema):
    number: int
    published_at: dt.datetime | None
    graph: dict[str, Any]


class EnrolmentOut(Schema):
    id: int
    flow_id: int
    contact_id: int
    version: int
    status: str
    step: str
    next_run_at: dt.datetime | None
    enrolled_at: dt.datetime
    ended_at: dt.datetime | None
    goal_at: dt.datetime | None
    exit_reason: str
    is_test: bool

    @staticmethod
    def resolve_version(obj: Enrolment) -> int:
        return obj.version.number

    @staticmethod
    def resolve_step(obj: Enrolment) -> str:
        return obj.node


class StepRunOut(Schema):
    seq: int
    step: str
    kind: str
    outcome: str
    at: dt.datetime
    message_state: str | None


class EnrolmentDetailOut(EnrolmentOut):
    history: list[StepRunOut]


class GroupOut(Schema):
    contacts: int
    conversions: int
    rate: float
    revenue_per_contact: float


class LiftOut(Schema):
    verdict: str
    verdict_text: str
    treated: GroupOut
    held_out: GroupOut
    rate_difference: float
    rate_interval: tuple[float, float]
    revenue_difference: float
    revenue_interval: tuple[float, float]


class HookOut(Schema):
    enrolled: bool
    enrolment_id: int | None


def _reader(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "view_automation"):
        raise ApiError(403, "forbidden", _("You may not see automation flows."))
    return who


def _writer(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "manage_automation") or not who.can_write:
        raise ApiError(403, "forbidden", _("You may not change automation flows."))
    return who


def _flow(flow_id: int) -> Flow:
    return get_object_or_404(Flow.objects.select_related("live_version"), pk=flow_id)


def _detail(flow: Flow) -> dict[str, Any]:
    draft = services.draft_of(flow)
    counts = selectors.step_counts(flow)
    return {
        **{
            k: getattr(flow, k)
            for k in ("id", "name", "description", "status", "reentry", "managed_by")
        },
        "holdout_percent": flow.holdout_percent,
        "live_version": flow.live_version.number if flow.live_version else None,
        "draft_version": draft.number if draft.pk and draft.published_at is None else None,
        "graph": draft.graph,
        "enrolments": selectors.status_counts(flow),
        "steps": [
            {"step": node, "entered": entered, "converted": converted}
            for node, (entered, converted) in sorted(counts.items())
        ],
    }


@router.get("/flows", response={200: list[FlowOut], **ERRORS})
def list_flows(request: HttpRequest) -> list[Flow]:
    _reader(request)
    return list(Flow.objects.select_related("live_version").order_by("name", "id"))


@router.post("/flows", response={201: FlowDetailOut, **ERRORS})
def create_flow(request: HttpRequest, payload: FlowIn) -> Status[dict[str, Any]]:
    """Create a flow from `graph`, or from a ready `template` (welcome, webinar, mql_handoff,
    re_engagement, loyalty, quote, blank); it starts as a draft: publish it to run it."""
    who = _writer(request)
    if payload.graph is None:
        if payload.template not in TEMPLATES:
            raise ApiError(
                400, "invalid", _("Give a graph or a known template."),
                {"template": [_("Unknown template.")]},
            )  # fmt: skip
        graph = TEMPLATES[payload.template][1]()
    else:
        graph = payload.graph
    flow = services.flow_create(
        actor=who.actor,
        name=payload.name,
        description=payload.description,
        graph=graph,
        reentry=payload.reentry,
        holdout_percent=payload.holdout_percent,
    )
    return Status(201, _detail(_flow(flow.pk)))


@router.get("/flows/{flow_id}", response={200: FlowDetailOut, **ERRORS})
def get_flow(request: HttpRequest, flow_id: Id) -> dict[str, Any]:
    _reader(request)
    return _detail(_flow(flow_id))


@router.put("/flows/{flow_id}", response={200: FlowDetailOut, **ERRORS})
def update_flow(request: HttpRequest, flow_id: Id, payload: SettingsIn) -> dict[str, Any]:
    who = _writer(request)
    services.flow_update(actor=who.actor, flow=_flow(flow_id), **payload.model_dump())
    return _detail(_flow(flow_id))


@router.put("/flows/{flow_id}/graph", response={200: VersionOut, **ERRORS})
def save_graph(request: HttpRequest, flow_id: Id, payload: GraphIn) -> Any:
    """Save the graph as the flow's draft (a published version is never changed)."""
    who = _writer(request)
    return services.flow_graph_save(actor=who.actor, flow=_flow(flow_id), graph=payload.graph)


@router.post("/flows/{flow_id}/publish", response={200: VersionOut, **ERRORS})
def publish_flow(request: HttpRequest, flow_id: Id) -> Any:
    who = _writer(request)
    return services.flow_publish(actor=who.actor, flow=_flow(flow_id))


@router.get("/flows/{flow_id}/versions", response={200: list[VersionOut], **ERRORS})
def list_versions(request: HttpRequest, flow_id: Id) -> Any:
    _reader(request)
    return list(_flow(flow_id).versions.order_by("-number"))


@router.post("/flows/{flow_id}/status", response={200: FlowOut, **ERRORS})
def set_status(request: HttpRequest, flow_id: Id, payload: StatusIn) -> Flow:
    """`active`, `paused` or `archived`."""
    who = _writer(request)
    if payload.status not in (FlowStatus.ACTIVE, FlowStatus.PAUSED, FlowStatus.ARCHIVED):
        raise ApiError(400, "invalid", _("Unknown status."), {"status": [_("Unknown status.")]})
    services.flow_set_status(actor=who.actor, flow=_flow(flow_id), status=payload.status)
    return _flow(flow_id)


@router.post("/flows/{flow_id}/test-enrolments", response={201: EnrolmentOut, **ERRORS})
def test_enrol(request: HttpRequest, flow_id: Id, payload: TestEnrolIn) -> Status[Enrolment]:
    who = _writer(request)
    contact = get_object_or_404(scoped(who.user, Contact), pk=payload.contact_id)
    enrolment = services.enrol_test(actor=who.actor, flow=_flow(flow_id), contact=contact)
    return Status(201, Enrolment.objects.select_related("version").get(pk=enrolment.pk))


@router.get("/flows/{flow_id}/enrolments", response={200: list[EnrolmentOut], **ERRORS})
def list_enrolments(
    request: HttpRequest,
    flow_id: Id,
    status: str = "",
    limit: Annotated[int, Field(ge=1, le=500)] = 100,
) -> list[Enrolment]:
    """The newest enrolments of contacts the caller may see (at most `limit`)."""
    who = _reader(request)
    rows = selectors.enrolments_for(who.user, _flow(flow_id))
    if status:
        rows = rows.filter(status=status)
    return list(rows[:limit])


def _enrolment(who: ApiCaller, enrolment_id: int) -> Enrolment:
    return get_object_or_404(
        Enrolment.objects.select_related("version").filter(contact__in=scoped(who.user, Contact)),
        pk=enrolment_id,
    )


@router.get("/enrolments/{enrolment_id}", response={200: EnrolmentDetailOut, **ERRORS})
def get_enrolment(request: HttpRequest, enrolment_id: Id) -> Enrolment:
    who = _reader(request)
    enrolment = _enrolment(who, enrolment_id)
    history = [
        {
            "seq": s.seq, "step": s.node, "kind": s.kind, "outcome": s.outcome, "at": s.at,
            "message_state": getattr(getattr(s, "message", None), "state", None),
        }
        for s in enrolment.steps.select_related("message").order_by("seq")
    ]  # fmt: skip
    enrolment.history = history  # type: ignore[attr-defined]  # read by EnrolmentDetailOut
    return enrolment


@router.post("/enrolments/{enrolment_id}/exit", response={200: EnrolmentOut, **ERRORS})
def exit_enrolment(request: HttpRequest, enrolment_id: Id) -> Enrolment:
    who = _writer(request)
    enrolment = _enrolment(who, enrolment_id)
    services.enrolment_exit(actor=who.actor, enrolment=enrolment)
    return _enrolment(who, enrolment_id)


@router.get("/flows/{flow_id}/lift", response={200: LiftOut, **ERRORS})
def get_lift(request: HttpRequest, flow_id: Id) -> dict[str, Any]:
    """Treated against held-out contacts: conversion and revenue per contact, 95% intervals."""
    _reader(request)
    report = lift.flow_lift(_flow(flow_id))

    def group(x: lift.Group) -> dict[str, Any]:
        return {
            "contacts": x.contacts, "conversions": x.conversions, "rate": x.rate,
            "revenue_per_contact": x.revenue_per_contact,
        }  # fmt: skip

    return {
        "verdict": report.verdict,
        "verdict_text": report.verdict_text,
        "treated": group(report.treated),
        "held_out": group(report.held_out),
        "rate_difference": report.rate_difference,
        "rate_interval": report.rate_interval,
        "revenue_difference": report.revenue_difference,
        "revenue_interval": report.revenue_interval,
    }


@router.get("/policy", response={200: PolicyOut, **ERRORS})
def get_policy(request: HttpRequest) -> Policy:
    _reader(request)
    return Policy.current()


@router.put("/policy", response={200: PolicyOut, **ERRORS})
def set_policy(request: HttpRequest, payload: PolicyIn) -> Policy:
    """Frequency cap (flow emails per contact per window) and quiet hours, across all flows."""
    who = _writer(request)
    return services.policy_update(actor=who.actor, **payload.model_dump())


@router.post("/flows/{flow_id}/hook", auth=None, response={200: HookOut, **ERRORS})
def incoming_hook(request: HttpRequest, flow_id: Id) -> dict[str, Any]:
    """Public, signed: enrol a contact in a flow whose trigger is `webhook`. Body JSON
    `{"id": "<event id>", "email": "…"}` or `{"id", "contact_id"}`; the same `id` twice enrols
    once."""
    check_rate_limit(f"automation-hook:{flow_id}", limit=600)
    flow = Flow.objects.select_related("live_version").filter(pk=flow_id).first()
    signed = {
        name: request.headers.get(name, "")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    if flow is None or not webhooks.verify(
        services.flow_webhook_secret(flow), signed, request.body, now=timezone.now()
    ):
        raise ApiError(
            401,
            "bad_signature",
            _("The signature does not match (or its timestamp is more than 5 minutes away)."),
        )
    try:
        data = json.loads(request.body)
    except ValueError:
        raise ApiError(400, "invalid", _("The body is not JSON.")) from None
    if not isinstance(data, dict) or not str(data.get("id", "")).strip():
        raise ApiError(
            400, "invalid", _("Give the event an id."), {"id": [_("This field is required.")]}
        )
    version = flow.live_version
    if flow.status != FlowStatus.ACTIVE or version is None:
        raise ApiError(400, "inactive", _("The flow is not active."))
    if g.validate_graph(version.graph).trigger.kind != "webhook":
        raise ApiError(400, "wrong_trigger", _("This flow does not start on a webhook."))
    contacts = Contact.objects.all()
    if data.get("contact_id") is not None:
        contact = contacts.filter(
            pk=int(data["contact_id"]) if str(data["contact_id"]).isdigit() else 0
        ).first()
    else:
        contact = (
            contacts.filter(email__iexact=str(data.get("email", ""))[:254]).first()
            if data.get("email")
            else None
        )
    if contact is None:
        raise ApiError(404, "not_found", _("No such contact."))
    with transaction.atomic():
        enrolment = services.enrol(
            flow=flow, contact_id=contact.pk, trigger_key=f"webhook:{str(data['id'])[:60]}"
        )
    return {"enrolled": enrolment is not None, "enrolment_id": enrolment.pk if enrolment else None}
