"""The field operations under /api/v1/field (mounted in config/api.py): visits (plan, check in,
check out, report, cancel, deal, attachments), the offline sync, coverage, a day's route, visit
plans and tiers, and the head's visits per rep. Thin: parse, call a service, render.

Invariants:
- every read starts from `scoped(caller, ...)`: an invisible visit is a 404; a visible visit the
  caller may not change is a 403;
- visits are addressed by their uuid (made by the client when offline): `POST /visits` with a
  uuid that exists answers 200 with the stored visit, never a second one;
- a report saved against an older version answers 409 `conflict` with the visit as stored;
- `POST /sync` applies each queued operation once (by its uuid) and answers per operation.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from typing import Annotated, Any, Literal

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from tandem.core.access import can, get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.models import User
from tandem.crm.models import Account, Contact
from tandem.field import selectors, services
from tandem.field.forms import ReportForm
from tandem.field.models import Attachment, FollowUp, Visit, VisitPlan, VisitTier
from tandem.sales.models import Deal

router = Router(tags=["field"])

READ_ERRORS: dict[int, Any] = {400: Error, 401: Error, 404: Error, 429: Error}
WRITE_ERRORS: dict[int, Any] = {**READ_ERRORS, 403: Error, 409: Error, 413: Error}
MAX_SYNC_OPERATIONS = 200
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
MAX_ID = 2**63 - 1
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]


class VisitIn(Schema):
    uuid: uuidlib.UUID | None = None
    account_id: RecordId
    contact_id: RecordId | None = None
    rep_id: RecordId | None = None
    planned_start: dt.datetime
    planned_end: dt.datetime
    notes: str = Field(default="", max_length=10_000)


class FollowUpOut(Schema):
    """A follow-up as its task on the rep's "My tasks" holds it (`task_id`: that task)."""

    id: int
    task_id: int
    title: str
    due_on: dt.date
    done_at: dt.datetime | None


class AttachmentOut(Schema):
    uuid: uuidlib.UUID
    name: str
    content_type: str
    size: int


class VisitOut(Schema):
    uuid: uuidlib.UUID
    version: int
    account_id: int
    account_name: str
    contact_id: int | None
    rep_id: int
    status: str
    planned_start: dt.datetime
    planned_end: dt.datetime
    check_in_at: dt.datetime | None
    check_in_lat: float | None
    check_in_lon: float | None
    check_out_at: dt.datetime | None
    check_out_lat: float | None
    check_out_lon: float | None
    industry: str
    notes: str
    report: dict[str, Any]
    deal_id: int | None
    follow_ups: list[FollowUpOut]
    attachments: list[AttachmentOut]

    @staticmethod
    def resolve_account_name(obj: Visit) -> str:
        return obj.account.name

    @staticmethod
    def resolve_follow_ups(obj: Visit) -> list[Any]:
        return list(obj.follow_ups.all())

    @staticmethod
    def resolve_attachments(obj: Visit) -> list[Attachment]:
        return list(obj.attachments.all())


class VisitFilters(Schema):
    start: dt.date | None = Field(default=None, ge=FIRST_DAY, le=LAST_DAY)  # the caller's zone
    days: int = Field(default=7, ge=1, le=62)
    rep_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class CheckIn(Schema):
    at: dt.datetime | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class FollowUpIn(Schema):
    title: str = Field(max_length=300)
    due_on: dt.date


class ReportIn(Schema):
    base_version: int = Field(ge=1)
    notes: str = Field(default="", max_length=10_000)
    report: dict[str, Any] = Field(default_factory=dict)
    follow_ups: list[FollowUpIn] = Field(default_factory=list, max_length=20)


class DealIn(Schema):
    name: str | None = Field(default=None, max_length=200)
    amount: str = "0"
    deal_id: RecordId | None = None
    stage_id: RecordId | None = None


class DealOut(Schema):
    id: int
    name: str
    stage_id: int
    amount: str

    @staticmethod
    def resolve_amount(obj: Deal) -> str:
        return str(obj.amount)


class SyncOperationIn(Schema):
    uuid: uuidlib.UUID
    kind: Literal["check_in", "check_out", "report"]
    visit: uuidlib.UUID
    at: dt.datetime | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    base_version: int | None = None
    notes: str = Field(default="", max_length=10_000)
    report: dict[str, Any] = Field(default_factory=dict)
    follow_ups: list[FollowUpIn] = Field(default_factory=list, max_length=20)
    fields: dict[str, str] | None = Field(
        default=None, description="a report as the page's form fields (the offline app sends these)"
    )


class SyncIn(Schema):
    operations: list[SyncOperationIn] = Field(max_length=MAX_SYNC_OPERATIONS)


class SyncResult(Schema):
    uuid: uuidlib.UUID
    status: Literal["applied", "duplicate", "conflict", "invalid"]
    first: str | None = None
    visit: dict[str, Any] | None = None
    errors: dict[str, list[str]] | None = None


class SyncOut(Schema):
    results: list[SyncResult]


class CoverageOut(Schema):
    account_id: int
    account_name: str
    tier: str
    every_days: int
    rep_id: int
    last_visit: dt.datetime | None
    due_at: dt.datetime | None
    due: bool
    open_visit: bool


class RouteStop(Schema):
    uuid: uuidlib.UUID
    account_name: str
    planned_start: dt.datetime


class RouteOut(Schema):
    ordered: list[RouteStop]
    entered: list[RouteStop]
    unplaced: list[RouteStop]
    entered_km: float
    ordered_km: float
    saved_km: float
    feasible: bool


class TierIn(Schema):
    code: str = Field(max_length=10)
    every_days: int
    description: str = Field(default="", max_length=200)


class TierOut(Schema):
    code: str
    every_days: int
    description: str


class PlanIn(Schema):
    account_id: RecordId
    tier: str = Field(max_length=10)
    rep_id: RecordId
    lat: float | None = None
    lon: float | None = None
    opens: dt.time | None = None
    closes: dt.time | None = None


class PlanOut(Schema):
    account_id: int
    tier: str
    rep_id: int
    lat: float | None
    lon: float | None
    opens: dt.time | None
    closes: dt.time | None

    @staticmethod
    def resolve_tier(obj: VisitPlan) -> str:
        return obj.tier.code


class RepRow(Schema):
    rep_id: int
    username: str
    done: int
    planned: int
    cancelled: int
    accounts: int


# --- helpers --------------------------------------------------------------------------------


def _visitor(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "visit_accounts"):
        raise ApiError(403, "forbidden", _("You do not visit accounts."))
    return who


def _visits(user: object) -> QuerySet[Visit]:
    return (
        scoped(user, Visit)
        .select_related("account")
        .prefetch_related(
            Prefetch("follow_ups", FollowUp.objects.select_related("task")), "attachments"
        )
    )


def _visit(who: ApiCaller, key: uuidlib.UUID, change: bool = False) -> Visit:
    visit = _visits(who.user).filter(uuid=key).first()
    if visit is None:
        raise ApiError(404, "not_found", _("No such visit."))
    if change and not scoped(who.user, Visit, "change").filter(pk=visit.pk).exists():
        raise ApiError(403, "forbidden", _("You may not change this visit."))
    return visit


def _out(visit: Visit, who: ApiCaller) -> Visit:
    return _visits(who.user).get(pk=visit.pk)


def _rep(who: ApiCaller, rep_id: int | None) -> User:
    if rep_id is None or rep_id == who.user.pk:
        return who.user
    if not can(who.user, "manage_visit_plans"):
        raise ApiError(403, "forbidden", _("You may plan visits only for yourself."))
    rep = User.objects.filter(pk=rep_id, is_active=True).first()
    if rep is None:
        raise ApiError(
            400, "invalid", _("Some fields are not valid."), {"rep_id": [_("no such user")]}
        )
    return rep


def _conflict(exc: services.VisitConflict) -> ApiError:
    return ApiError(
        409,
        "conflict",
        _("The visit was changed since you read it; nothing was saved."),
        {"visit": services.visit_state(exc.current)},
    )


def _stop(visit: Visit) -> dict[str, Any]:
    return {
        "uuid": visit.uuid,
        "account_name": visit.account.name,
        "planned_start": visit.planned_start,
    }


# --- visits ---------------------------------------------------------------------------------


@router.get("/visits", response={200: list[VisitOut], **READ_ERRORS})
def list_visits(request: HttpRequest, filters: Query[VisitFilters]) -> list[Visit]:
    """Visits the caller can see from `start` (default: this Monday) for `days` days."""
    who = caller(request)
    today = timezone.localdate()
    first = filters.start or today - dt.timedelta(days=today.weekday())
    zone = timezone.get_current_timezone()
    since = dt.datetime.combine(first, dt.time(0), tzinfo=zone)
    qs = _visits(who.user).filter(
        planned_start__gte=since, planned_start__lt=since + dt.timedelta(days=filters.days)
    )
    if filters.rep_id is not None:
        qs = qs.filter(rep_id=filters.rep_id)
    return list(qs.order_by("planned_start", "id")[:1000])


@router.post("/visits", response={200: VisitOut, 201: VisitOut, **WRITE_ERRORS})
def create_visit(request: HttpRequest, payload: VisitIn) -> Status[Visit]:
    """Plan a visit; with the uuid of an existing visit, that visit (200), not a second one."""
    who = _visitor(request)
    if payload.uuid is not None:
        existing = _visits(who.user).filter(uuid=payload.uuid).first()
        if existing is not None:
            return Status(200, existing)
    account = get_scoped(who.user, Account, payload.account_id)
    contact = (
        get_scoped(who.user, Contact, payload.contact_id)
        if payload.contact_id is not None
        else None
    )
    visit, created = services.visit_create(
        actor=who.actor,
        account=account,
        contact=contact,
        rep=_rep(who, payload.rep_id),
        planned_start=payload.planned_start,
        planned_end=payload.planned_end,
        uuid=payload.uuid,
        notes=payload.notes,
    )
    if not created and not scoped(who.user, Visit).filter(pk=visit.pk).exists():
        raise ApiError(409, "conflict", _("This uuid is taken."))
    return Status(201 if created else 200, _out(visit, who))


@router.get("/visits/{visit_uuid}", response={200: VisitOut, **READ_ERRORS})
def get_visit(request: HttpRequest, visit_uuid: uuidlib.UUID) -> Visit:
    return _visit(caller(request), visit_uuid)


@router.post("/visits/{visit_uuid}/check-in", response={200: VisitOut, **WRITE_ERRORS})
def check_in(request: HttpRequest, visit_uuid: uuidlib.UUID, payload: CheckIn) -> Visit:
    who = _visitor(request)
    visit = _visit(who, visit_uuid, change=True)
    services.visit_check_in(
        actor=who.actor, visit=visit, at=payload.at, lat=payload.lat, lon=payload.lon
    )
    return _out(visit, who)


@router.post("/visits/{visit_uuid}/check-out", response={200: VisitOut, **WRITE_ERRORS})
def check_out(request: HttpRequest, visit_uuid: uuidlib.UUID, payload: CheckIn) -> Visit:
    """Complete the visit: it becomes a touchpoint of the field department."""
    who = _visitor(request)
    visit = _visit(who, visit_uuid, change=True)
    services.visit_check_out(
        actor=who.actor, visit=visit, at=payload.at, lat=payload.lat, lon=payload.lon
    )
    return _out(visit, who)


@router.post("/visits/{visit_uuid}/cancel", response={200: VisitOut, **WRITE_ERRORS})
def cancel(request: HttpRequest, visit_uuid: uuidlib.UUID) -> Visit:
    who = _visitor(request)
    visit = _visit(who, visit_uuid, change=True)
    services.visit_cancel(actor=who.actor, visit=visit)
    return _out(visit, who)


@router.put("/visits/{visit_uuid}/report", response={200: VisitOut, **WRITE_ERRORS})
def save_report(request: HttpRequest, visit_uuid: uuidlib.UUID, payload: ReportIn) -> Visit:
    """Notes, industry fields and new follow-ups, against `base_version` (409 if stale)."""
    who = _visitor(request)
    visit = _visit(who, visit_uuid, change=True)
    try:
        services.visit_report_save(
            actor=who.actor,
            visit=visit,
            base_version=payload.base_version,
            notes=payload.notes,
            report=payload.report,
            follow_ups=[(f.title, f.due_on) for f in payload.follow_ups],
        )
    except services.VisitConflict as exc:
        raise _conflict(exc) from None
    return _out(visit, who)


@router.post("/visits/{visit_uuid}/deal", response={200: DealOut, **WRITE_ERRORS})
def visit_deal(request: HttpRequest, visit_uuid: uuidlib.UUID, payload: DealIn) -> Deal:
    """Create a deal (`name`, `amount`) or advance one (`deal_id`, `stage_id`) from a visit."""
    who = _visitor(request)
    if not can(who.user, "sell"):
        raise ApiError(403, "forbidden", _("You may not work deals."))
    visit = _visit(who, visit_uuid, change=True)
    if payload.deal_id is not None:
        if payload.stage_id is None:
            raise ApiError(
                400, "invalid", _("Some fields are not valid."), {"stage_id": [_("required")]}
            )
        deal = get_scoped(who.user, Deal, payload.deal_id, "change")
        return services.visit_deal_advance(
            actor=who.actor, visit=visit, deal=deal, stage_id=payload.stage_id
        )
    if not payload.name:
        raise ApiError(400, "invalid", _("Some fields are not valid."), {"name": [_("required")]})
    return services.visit_deal_create(
        actor=who.actor, visit=visit, name=payload.name, amount=payload.amount
    )


@router.post(
    "/visits/{visit_uuid}/attachments",
    response={200: AttachmentOut, 201: AttachmentOut, **WRITE_ERRORS},
    url_name="field_attach",
)
def add_attachment(
    request: HttpRequest,
    visit_uuid: uuidlib.UUID,
    file: File[UploadedFile],
    uuid: uuidlib.UUID | None = None,
) -> Status[Attachment]:
    """A photo (JPEG, PNG, WebP) or PDF up to 10 MB, checked by its content; `uuid` (query)
    makes a retry idempotent."""
    who = _visitor(request)
    visit = _visit(who, visit_uuid, change=True)
    if file.size and file.size > services.MAX_ATTACHMENT_BYTES:
        raise ApiError(413, "too_large", _("The file is larger than 10 MB."))
    content = file.read(services.MAX_ATTACHMENT_BYTES + 1)
    row, created = services.attachment_add(
        actor=who.actor, visit=visit, name=file.name or "", content=content, uuid=uuid
    )
    return Status(201 if created else 200, row)


# --- offline sync ---------------------------------------------------------------------------


@router.post("/sync", response={200: SyncOut, **WRITE_ERRORS}, url_name="field_sync")
def sync(request: HttpRequest, payload: SyncIn) -> dict[str, Any]:
    """Apply the queued operations of an offline client in order, each at most once."""
    who = _visitor(request)
    changeable = scoped(who.user, Visit, "change")
    results = []
    for op in payload.operations:
        visit = changeable.filter(uuid=op.visit).first()
        data: dict[str, Any] = {"at": op.at, "lat": op.lat, "lon": op.lon}
        errors = None
        if op.kind == "report" and op.fields is not None:
            form = ReportForm(visit.industry if visit else "", op.fields)
            if form.is_valid():
                data.update(
                    base_version=form.cleaned_data["base_version"],
                    notes=form.cleaned_data["notes"],
                    report=form.report(),
                    follow_ups=form.cleaned_data["follow_ups"],
                )
            else:
                errors = {k: [str(m) for m in v] for k, v in form.errors.items()}
        elif op.kind == "report":
            data.update(
                base_version=op.base_version or 0,
                notes=op.notes,
                report=op.report,
                follow_ups=[(f.title, f.due_on) for f in op.follow_ups],
            )
        outcome = services.sync_apply(
            actor=who.actor,
            user=who.user,
            op_uuid=op.uuid,
            kind=op.kind,
            visit=visit,
            data=data,
            errors=errors,
        )
        results.append({"uuid": op.uuid, **outcome})
    return {"results": results}


# --- coverage, routes, plans, the head's overview --------------------------------------------


@router.get("/coverage", response={200: list[CoverageOut], **READ_ERRORS})
def get_coverage(request: HttpRequest) -> list[dict[str, Any]]:
    """Key accounts the caller can see, due first."""
    who = caller(request)
    return [
        {
            "account_id": row.plan.account_id,
            "account_name": row.plan.account.name,
            "tier": row.plan.tier.code,
            "every_days": row.plan.tier.every_days,
            "rep_id": row.plan.rep_id,
            "last_visit": row.last_visit,
            "due_at": row.due_at,
            "due": row.due,
            "open_visit": row.open_visit,
        }
        for row in selectors.coverage(plans=scoped(who.user, VisitPlan))
    ]


@router.get("/route", response={200: RouteOut, **READ_ERRORS})
def get_route(
    request: HttpRequest, day: dt.date | None = None, rep_id: int | None = None
) -> dict[str, Any]:
    """The day's visits in the solver's order, and the distance saved against the planned
    order (needs the rep's base)."""
    who = caller(request)
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise ApiError(
            400, "invalid", _("Some fields are not valid."), {"day": [_("2000 to 2100")]}
        )
    if rep_id is not None and not 1 <= rep_id <= MAX_ID:
        raise ApiError(
            400, "invalid", _("Some fields are not valid."), {"rep_id": [_("no such user")]}
        )
    route = selectors.day_route(
        scoped(who.user, Visit), rep_id or who.user.pk, day or timezone.localdate()
    )
    if route is None:
        raise ApiError(404, "not_found", _("The rep has no base to start the day from."))
    return {
        "ordered": [_stop(v) for v in route.ordered],
        "entered": [_stop(v) for v in route.entered],
        "unplaced": [_stop(v) for v in route.unplaced],
        "entered_km": route.entered_km,
        "ordered_km": route.ordered_km,
        "saved_km": route.saved_km,
        "feasible": route.feasible,
    }


@router.get("/tiers", response={200: list[TierOut], **READ_ERRORS})
def list_tiers(request: HttpRequest) -> list[VisitTier]:
    return list(scoped(caller(request).user, VisitTier))


@router.post("/tiers", response={200: TierOut, **WRITE_ERRORS})
def save_tier(request: HttpRequest, payload: TierIn) -> VisitTier:
    who = caller(request)
    if not can(who.user, "manage_visit_plans"):
        raise ApiError(403, "forbidden", _("You may not change visit plans."))
    return services.visit_tier_save(
        actor=who.actor,
        code=payload.code,
        every_days=payload.every_days,
        description=payload.description,
    )


@router.get("/plans", response={200: list[PlanOut], **READ_ERRORS})
def list_plans(request: HttpRequest) -> list[VisitPlan]:
    return list(scoped(caller(request).user, VisitPlan).select_related("tier"))


@router.put("/plans", response={200: PlanOut, **WRITE_ERRORS})
def set_plan(request: HttpRequest, payload: PlanIn) -> VisitPlan:
    """Make an account a key account of a tier, visited by a rep."""
    who = caller(request)
    if not can(who.user, "manage_visit_plans"):
        raise ApiError(403, "forbidden", _("You may not change visit plans."))
    account = get_scoped(who.user, Account, payload.account_id)
    tier = VisitTier.objects.filter(code=payload.tier.strip().upper()).first()
    rep = User.objects.filter(pk=payload.rep_id, is_active=True).first()
    if tier is None or rep is None:
        details = {"tier": [_("no such tier")]} if tier is None else {}
        if rep is None:
            details["rep_id"] = [_("no such user")]
        raise ApiError(400, "invalid", _("Some fields are not valid."), details)
    return services.visit_plan_set(
        actor=who.actor,
        account=account,
        tier=tier,
        rep=rep,
        lat=payload.lat,
        lon=payload.lon,
        opens=payload.opens,
        closes=payload.closes,
    )


@router.get("/overview", response={200: list[RepRow], **READ_ERRORS})
def overview(request: HttpRequest, days: int = 90) -> list[dict[str, Any]]:
    """Visits per rep over the last `days` days (the head's field page)."""
    who = caller(request)
    if not can(who.user, "view_field_overview"):
        raise ApiError(403, "forbidden", _("This is the head's overview."))
    since = timezone.now() - dt.timedelta(days=max(1, min(days, 366)))
    return [
        {
            "rep_id": row["rep_id"],
            "username": row["rep__username"],
            "done": row["done"],
            "planned": row["planned"],
            "cancelled": row["cancelled"],
            "accounts": row["accounts"],
        }
        for row in selectors.visits_per_rep(scoped(who.user, Visit), since)
    ]
