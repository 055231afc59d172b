"""Every write of field work: visit tiers and plans, visits (plan, check in, report, check out,
cancel), follow-ups, attachments, deals from visits, and the offline sync of queued operations.

Invariants:
- each operation is one transaction with its audit entry (`core.audit.record_change`);
- checking out completes a visit and records its one touchpoint of the field department
  (`crm.services.touchpoint_record`) in the same transaction; a visit is completed once;
- a report saved against a version other than the visit's current one raises `VisitConflict`
  carrying the current visit: the caller shows it, nothing is overwritten;
- every change of a visit increments its `version`;
- deals are created and moved only through `sales.services` (the visit's rep owns a new deal,
  a move counts for the field department);
- an attachment is at most `MAX_ATTACHMENT_BYTES` and its content (not its name) must be a
  JPEG, PNG, WebP image or a PDF; it is stored under a generated name;
- each follow-up of a report is one sales task (`sales.services.task_create`) on the visit's
  rep's "My tasks", made in the report's transaction; completing a follow-up completes that
  task (`sales.services.task_complete`), the one place its state is kept;
- `sync_apply` applies each queued operation at most once (`SyncOperation.uuid`), so a replayed
  report makes no second follow-up nor task.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid as uuidlib
from collections.abc import Iterable
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import (
    Actor,
    created_changes,
    diff,
    record_change,
    record_changes,
    snapshot,
)
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, User
from tandem.crm import services as crm_services
from tandem.crm.models import Account, Contact
from tandem.field.models import (
    Attachment,
    FollowUp,
    RepBase,
    SyncOperation,
    Visit,
    VisitPlan,
    VisitStatus,
    VisitTier,
)
from tandem.field.reports import clean_report
from tandem.sales import services as sales_services
from tandem.sales.models import Deal

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_FOLLOW_UPS = 20
TOUCHPOINT_CHANNEL = "field_visit"
TOUCHPOINT_KIND = "visit_completed"
SIGNATURES: list[tuple[bytes, int, str, str]] = [  # (magic, offset, content type, extension)
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"WEBP", 8, "image/webp", "webp"),
    (b"%PDF-", 0, "application/pdf", "pdf"),
]


def _no_nul(field: str, value: str) -> str:
    """Text as stored: NUL characters are refused (PostgreSQL cannot store them)."""
    if "\x00" in value:
        raise InvalidInput({field: [_("contains a NUL character")]})
    return value


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """A time without a zone is read in the active time zone (the user's)."""
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


class VisitConflict(Exception):
    """A change made against an older version of a visit; `current` is the visit as stored."""

    def __init__(self, current: Visit) -> None:
        self.current = current
        super().__init__(f"visit {current.uuid} is at version {current.version}")


# --- tiers and plans ---------------------------------------------------------------------


@transaction.atomic
def visit_tier_save(
    *, actor: Actor, code: str, every_days: int, description: str = ""
) -> VisitTier:
    code = _no_nul("code", code).strip().upper()
    _no_nul("description", description)
    if not code or len(code) > 10:
        raise InvalidInput({"code": [_("a tier is 1 to 10 characters")]})
    if not 1 <= every_days <= 366:
        raise InvalidInput({"every_days": [_("between 1 and 366 days")]})
    tier = VisitTier.objects.select_for_update().filter(code=code).first()
    if tier is None:
        tier = VisitTier.objects.create(
            code=code, every_days=every_days, description=description[:200]
        )
        record_change(actor=actor, action="create", instance=tier, changes=snapshot(tier))
        return tier
    before = snapshot(tier)
    tier.every_days, tier.description = every_days, description[:200]
    tier.save(update_fields=["every_days", "description"])
    record_change(actor=actor, action="update", instance=tier, changes=diff(before, snapshot(tier)))
    return tier


def _coordinates(lat: float | None, lon: float | None) -> dict[str, list[str]]:
    if (lat is None) != (lon is None):
        return {"lat": [_("give both latitude and longitude, or neither")]}
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return {"lat": [_("latitude or longitude out of range")]}
    return {}


@transaction.atomic
def visit_plan_set(
    *,
    actor: Actor,
    account: Account,
    tier: VisitTier,
    rep: User,
    lat: float | None = None,
    lon: float | None = None,
    opens: dt.time | None = None,
    closes: dt.time | None = None,
) -> VisitPlan:
    """Make ``account`` a key account of ``tier`` visited by ``rep`` (or change its plan)."""
    errors = _coordinates(lat, lon)
    if not rep.is_active:
        errors["rep"] = [_("not an active user")]
    if opens and closes and closes <= opens:
        errors["closes"] = [_("closes before it opens")]
    if errors:
        raise InvalidInput(errors)
    values = {"tier": tier, "rep": rep, "lat": lat, "lon": lon, "opens": opens, "closes": closes}
    plan = VisitPlan.objects.select_for_update().filter(account=account).first()
    if plan is None:
        plan = VisitPlan.objects.create(account=account, **values)
        record_change(actor=actor, action="create", instance=plan, changes=snapshot(plan))
        return plan
    before = snapshot(plan)
    for key, value in values.items():
        setattr(plan, key, value)
    plan.save(update_fields=list(values))
    record_change(actor=actor, action="update", instance=plan, changes=diff(before, snapshot(plan)))
    return plan


@transaction.atomic
def visit_plan_remove(*, actor: Actor, plan: VisitPlan) -> None:
    record_change(actor=actor, action="delete", instance=plan, changes=snapshot(plan))
    plan.delete()


@transaction.atomic
def rep_base_set(
    *, actor: Actor, rep: User, lat: float, lon: float, day_start: dt.time, day_end: dt.time
) -> RepBase:
    errors = _coordinates(lat, lon)
    if day_end <= day_start:
        errors["day_end"] = [_("the day ends before it starts")]
    if errors:
        raise InvalidInput(errors)
    base, created = RepBase.objects.update_or_create(
        rep=rep, defaults={"lat": lat, "lon": lon, "day_start": day_start, "day_end": day_end}
    )
    record_change(
        actor=actor, action="create" if created else "update", instance=base, changes=snapshot(base)
    )
    return base


# --- visits ------------------------------------------------------------------------------


def _check_window(start: dt.datetime, end: dt.datetime) -> None:
    if end <= start:
        raise InvalidInput({"planned_end": [_("the visit ends before it starts")]})
    if end - start > dt.timedelta(hours=12):
        raise InvalidInput({"planned_end": [_("a visit lasts at most 12 hours")]})


@transaction.atomic
def visit_create(
    *,
    actor: Actor,
    account: Account,
    rep: User,
    planned_start: dt.datetime,
    planned_end: dt.datetime,
    contact: Contact | None = None,
    uuid: uuidlib.UUID | None = None,
    notes: str = "",
) -> tuple[Visit, bool]:
    """Plan a visit; with a ``uuid`` that exists already, the stored visit (created False)."""
    planned_start, planned_end = _aware(planned_start), _aware(planned_end)  # type: ignore[assignment]
    _no_nul("notes", notes)
    if uuid is not None:
        existing = Visit.objects.filter(uuid=uuid).first()
        if existing is not None:
            return existing, False
    _check_window(planned_start, planned_end)
    if contact is not None and contact.account_id not in (None, account.pk):
        raise InvalidInput({"contact": [_("the contact belongs to another account")]})
    plan = VisitPlan.objects.filter(account=account).first()
    values: dict[str, Any] = {
        "account": account,
        "contact": contact,
        "rep": rep,
        "planned_start": planned_start,
        "planned_end": planned_end,
        "industry": account.industry or "",
        "notes": notes[:10_000],
        "lat": plan.lat if plan else None,
        "lon": plan.lon if plan else None,
    }
    if uuid is not None:
        values["uuid"] = uuid
    try:
        with transaction.atomic():
            visit = Visit.objects.create(**values)
    except IntegrityError:  # the same uuid, filed at the same moment by another request
        if uuid is None:
            raise
        return Visit.objects.get(uuid=uuid), False
    record_change(
        actor=actor, action="create", instance=visit, changes=created_changes(Visit, values)
    )
    return visit, True


def _locked(visit: Visit) -> Visit:
    return Visit.objects.select_for_update().get(pk=visit.pk)


def _bump(visit: Visit, fields: list[str]) -> None:
    visit.version = F("version") + 1
    visit.updated_at = timezone.now()
    visit.save(update_fields=[*fields, "version", "updated_at"])
    visit.refresh_from_db(fields=["version"])


@transaction.atomic
def visit_check_in(
    *,
    actor: Actor,
    visit: Visit,
    at: dt.datetime | None = None,
    lat: float | None = None,
    lon: float | None = None,
) -> Visit:
    visit = _locked(visit)
    at = _aware(at)
    errors = _coordinates(lat, lon)
    if errors:
        raise InvalidInput(errors)
    if visit.status != VisitStatus.PLANNED:
        raise InvalidInput({"status": [_("only a planned visit can be checked in")]})
    visit.status = VisitStatus.CHECKED_IN
    visit.check_in_at, visit.check_in_lat, visit.check_in_lon = at or timezone.now(), lat, lon
    _bump(visit, ["status", "check_in_at", "check_in_lat", "check_in_lon"])
    record_change(
        actor=actor,
        action="update",
        instance=visit,
        changes={"status": [VisitStatus.PLANNED, visit.status], "check_in_at": [None, str(at)]},
    )
    return visit


@transaction.atomic
def visit_check_out(
    *,
    actor: Actor,
    visit: Visit,
    at: dt.datetime | None = None,
    lat: float | None = None,
    lon: float | None = None,
) -> Visit:
    """Complete a visit: the check-out, then its touchpoint of the field department."""
    visit = _locked(visit)
    errors = _coordinates(lat, lon)
    if errors:
        raise InvalidInput(errors)
    if visit.status not in (VisitStatus.PLANNED, VisitStatus.CHECKED_IN):
        raise InvalidInput({"status": [_("this visit is already done or cancelled")]})
    at = _aware(at) or timezone.now()
    if visit.check_in_at and at < visit.check_in_at:
        raise InvalidInput({"at": [_("the check-out is before the check-in")]})
    old = visit.status
    visit.status = VisitStatus.DONE
    visit.check_out_at, visit.check_out_lat, visit.check_out_lon = at, lat, lon
    if visit.check_in_at is None:
        visit.check_in_at = min(at, visit.planned_start)
    visit.touchpoint = crm_services.touchpoint_record(
        channel=TOUCHPOINT_CHANNEL,
        kind=TOUCHPOINT_KIND,
        department=Department.FIELD,
        contact=visit.contact,
        account=visit.account,
        occurred_at=at,
        actor=actor.user,
        properties={"visit": str(visit.uuid), "industry": visit.industry},
        source="field",
    )
    _bump(
        visit,
        ["status", "check_in_at", "check_out_at", "check_out_lat", "check_out_lon", "touchpoint"],
    )
    record_change(
        actor=actor,
        action="update",
        instance=visit,
        changes={"status": [old, visit.status], "check_out_at": [None, at.isoformat()]},
    )
    return visit


@transaction.atomic
def visit_cancel(*, actor: Actor, visit: Visit) -> Visit:
    visit = _locked(visit)
    if visit.status == VisitStatus.DONE:
        raise InvalidInput({"status": [_("a visit that took place cannot be cancelled")]})
    old = visit.status
    visit.status = VisitStatus.CANCELLED
    _bump(visit, ["status"])
    record_change(
        actor=actor, action="update", instance=visit, changes={"status": [old, visit.status]}
    )
    return visit


@transaction.atomic
def visit_report_save(
    *,
    actor: Actor,
    visit: Visit,
    base_version: int,
    notes: str,
    report: dict[str, Any] | None = None,
    follow_ups: Iterable[tuple[str, dt.date]] = (),
) -> Visit:
    """Save the report (notes, industry fields, new follow-ups) of a visit read at
    ``base_version``; a visit changed since raises `VisitConflict` (see the module)."""
    visit = _locked(visit)
    if visit.version != base_version:
        raise VisitConflict(visit)
    if visit.status == VisitStatus.CANCELLED:
        raise InvalidInput({"status": [_("the visit is cancelled")]})
    _no_nul("notes", notes)
    cleaned = clean_report(visit.industry, report)
    if "\\u0000" in json.dumps(cleaned):  # jsonb cannot store NUL either
        raise InvalidInput({"report": [_("contains a NUL character")]})
    tasks = [
        (_no_nul("follow_ups", title).strip()[:300], due)
        for title, due in follow_ups
        if title.strip()
    ]
    if len(tasks) > MAX_FOLLOW_UPS:
        raise InvalidInput({"follow_ups": [_("at most 20 follow-ups")]})
    before = snapshot(visit, ["notes", "report"])
    visit.notes, visit.report = notes[:10_000], cleaned
    _bump(visit, ["notes", "report"])
    rep, contact, deal = visit.rep, visit.contact, visit.deal
    for title, due in tasks:  # each a "to do" on the rep's "My tasks"
        task = sales_services.task_create(
            actor=actor, owner=rep, title=title, due_on=due, contact=contact, deal=deal
        )
        FollowUp.objects.create(visit=visit, task=task)
    changes = diff(before, snapshot(visit, ["notes", "report"]))
    if tasks:
        changes["follow_ups"] = [None, [t for t, _d in tasks]]
    record_change(actor=actor, action="update", instance=visit, changes=changes)
    return visit


@transaction.atomic
def follow_up_done(*, actor: Actor, follow_up: FollowUp) -> FollowUp:
    """Complete a follow-up: that is completing its task on "My tasks" (once; audited there)."""
    sales_services.task_complete(actor=actor, task=follow_up.task)
    return follow_up


@transaction.atomic
def visit_deal_create(*, actor: Actor, visit: Visit, name: str, amount: Any = "0") -> Deal:
    """A new deal from a visit (owned by the visit's rep, on the visit's account)."""
    visit = _locked(visit)
    deal = sales_services.deal_create(
        actor=actor, name=name, account_id=visit.account_id, owner_id=visit.rep_id, amount=amount
    )
    visit.deal = deal
    _bump(visit, ["deal"])
    record_change(actor=actor, action="update", instance=visit, changes={"deal": [None, deal.pk]})
    return deal


@transaction.atomic
def visit_deal_advance(*, actor: Actor, visit: Visit, deal: Deal, stage_id: int) -> Deal:
    """Move a deal of the visit's account to another stage, credited to the field department."""
    visit = _locked(visit)
    if deal.account_id != visit.account_id:
        raise InvalidInput({"deal": [_("the deal belongs to another account")]})
    deal = sales_services.deal_move(
        actor=actor, deal=deal, stage_id=stage_id, department=Department.FIELD
    )
    if visit.deal_id != deal.pk:
        old = visit.deal_id
        visit.deal = deal
        _bump(visit, ["deal"])
        record_change(
            actor=actor, action="update", instance=visit, changes={"deal": [old, deal.pk]}
        )
    return deal


def sniff(head: bytes) -> tuple[str, str] | None:
    """The content type and extension of a file from its first bytes, if one we accept."""
    for magic, offset, content_type, extension in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if content_type == "image/webp" and not head.startswith(b"RIFF"):
                continue
            return content_type, extension
    return None


@transaction.atomic
def attachment_add(
    *,
    actor: Actor,
    visit: Visit,
    name: str,
    content: bytes,
    uuid: uuidlib.UUID | None = None,
) -> tuple[Attachment, bool]:
    """Attach a photo or document (see the module: size and content checked)."""
    if uuid is not None:
        existing = Attachment.objects.filter(uuid=uuid, visit=visit).first()
        if existing is not None:
            return existing, False
    name = name.replace("\x00", "")
    if not content:
        raise InvalidInput({"file": [_("the file is empty")]})
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput({"file": [_("the file is larger than 10 MB")]})
    kind = sniff(content[:16])
    if kind is None:
        raise InvalidInput({"file": [_("only JPEG, PNG or WebP photos and PDF documents")]})
    content_type, extension = kind
    row = Attachment(
        visit=visit,
        name=(name.strip() or f"file.{extension}")[:200],
        content_type=content_type,
        size=len(content),
        uploaded_by=actor.user,
    )
    if uuid is not None:
        row.uuid = uuid
    row.file.save(f"{row.uuid}.{extension}", ContentFile(content), save=False)
    row.save()
    record_change(
        actor=actor,
        action="create",
        instance=row,
        changes={"visit": [None, visit.pk], "name": [None, row.name], "size": [None, row.size]},
    )
    return row, True


@transaction.atomic
def visits_plan_due(
    *, actor: Actor, rep: User, week_start: dt.datetime, length: dt.timedelta
) -> list[Visit]:
    """Plan a visit, in the week from ``week_start``, for each of ``rep``'s key accounts that is
    due by then (its last visit is older than its tier's interval) and has no open visit."""
    from tandem.field.selectors import coverage

    week_end = week_start + dt.timedelta(days=7)
    made = []
    slot = week_start.replace(hour=9, minute=0)
    for row in coverage(rep_ids=[rep.pk], at=week_end):
        if not row.due or row.open_visit:
            continue
        visit, _created = visit_create(
            actor=actor,
            account=row.plan.account,
            rep=rep,
            planned_start=slot,
            planned_end=slot + length,
        )
        made.append(visit)
        slot += length + dt.timedelta(minutes=30)
        if slot.hour >= 17:
            slot = (slot + dt.timedelta(days=1)).replace(hour=9, minute=0)
            if slot >= week_end:
                slot = week_start.replace(hour=9, minute=0)
    return made


# --- offline sync --------------------------------------------------------------------------


def visit_state(visit: Visit) -> dict[str, Any]:
    """What a client needs to show a visit (and a conflict)."""
    return {
        "uuid": str(visit.uuid),
        "version": visit.version,
        "status": visit.status,
        "notes": visit.notes,
        "report": visit.report,
        "account_id": visit.account_id,
        "planned_start": visit.planned_start.isoformat(),
    }


def _apply(actor: Actor, kind: str, visit: Visit | None, data: dict[str, Any]) -> dict[str, Any]:
    if visit is None:
        raise InvalidInput({"visit": [_("no such visit")]})
    at = data.get("at")
    lat, lon = data.get("lat"), data.get("lon")
    if kind == "check_in":
        visit = visit_check_in(actor=actor, visit=visit, at=at, lat=lat, lon=lon)
    elif kind == "check_out":
        visit = visit_check_out(actor=actor, visit=visit, at=at, lat=lat, lon=lon)
    elif kind == "report":
        visit = visit_report_save(
            actor=actor,
            visit=visit,
            base_version=int(data.get("base_version") or 0),
            notes=str(data.get("notes") or ""),
            report=data.get("report") or {},
            follow_ups=data.get("follow_ups") or (),
        )
    else:
        raise InvalidInput({"kind": [_("unknown operation")]})
    return {"status": "applied", "visit": visit_state(visit)}


def sync_apply(
    *,
    actor: Actor,
    user: User,
    op_uuid: uuidlib.UUID,
    kind: str,
    visit: Visit | None,
    data: dict[str, Any],
    errors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Apply one queued operation once: ``applied`` (with the visit), ``duplicate`` (with the
    first outcome), ``conflict`` (with the visit as stored) or ``invalid`` (with errors;
    ``errors`` given: refused before it got here, by the report form, and recorded so)."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                op = SyncOperation.objects.create(uuid=op_uuid, user=user, kind=kind, visit=visit)
        except IntegrityError:
            first = SyncOperation.objects.get(uuid=op_uuid)
            if first.user_id != user.pk:
                return {"status": "invalid", "errors": {"uuid": [_("already used")]}}
            return {**first.outcome, "status": "duplicate", "first": first.outcome.get("status")}
        try:
            if errors:
                raise InvalidInput(errors)
            with transaction.atomic():
                outcome = _apply(actor, kind, visit, data)
        except VisitConflict as conflict:
            outcome = {"status": "conflict", "visit": visit_state(conflict.current)}
        except InvalidInput as exc:
            outcome = {"status": "invalid", "errors": exc.errors}
        op.outcome = outcome
        op.save(update_fields=["outcome"])
        return outcome


# --- history ------------------------------------------------------------------------------


@transaction.atomic
def visits_record_history(*, actor: Actor, visits: list[Visit]) -> list[Visit]:
    """Store visits of the past as they were (an import or the demo's quarter): a completed
    one must carry the touchpoint already recorded for it (none is made here, so a visit is
    never counted twice). One audit entry per visit."""
    for visit in visits:
        _check_window(visit.planned_start, visit.planned_end)
        if visit.status == VisitStatus.DONE and visit.touchpoint_id is None:
            raise InvalidInput({"touchpoint": [_("a completed visit needs its touchpoint")]})
    made = Visit.objects.bulk_create(visits)
    record_changes(
        actor=actor,
        model=Visit,
        entries=(
            ("create", v.pk, str(v), {"status": [None, v.status], "account": [None, v.account_id]})
            for v in made
        ),
    )
    return made
