"""Every write to pipelines, products and deals: one keyword-only, transactional function each.

Invariants:
- each function stores all of its change or none of it; bad input raises `InvalidInput` before
  anything is written, and each change writes an AuditEntry in the same transaction;
- deal events (created, stage changed, won, lost) append a touchpoint to the timeline of the
  deal's first contact (or its account), department "sales" (or "self_service" for deals a buyer
  made or moved without a rep);
- a deal's amount is the sum of its product lines when it has any;
- a deal's stage history has one open visit, for its current stage (see models);
- a deal on a won or lost stage is closed: it moves only by `deal_reopen`.

Sequence operations live in `tandem.sales.sequences` and quotes in `tandem.sales.quotes`;
`sequence_create`, `sequence_stop_for_contact`, `sequence_enrol` and `task_complete` are
re-exported here because other apps call them (the demo makes a sequence and enrols its
contacts; field completes a visit's follow-up, which is a task on "My tasks").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.access import scoped
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Department, Organisation, User
from tandem.crm import services as crm
from tandem.crm.models import Account, Contact, LifecycleStage
from tandem.sales.catalogue import (
    business_date,
    line_price,
    price_list_create,
    price_list_update,
    price_remove,
    price_set,
    product_create,
    product_update,
)
from tandem.sales.cleaning import CENT, MAX_MONEY, currency, line_total, money, percent, text
from tandem.sales.lifecycle import set_lifecycle
from tandem.sales.models import (
    BuyingRole,
    Deal,
    DealContact,
    DealLine,
    DealSource,
    DealStageVisit,
    DealStatus,
    ForecastCategory,
    LossReason,
    Pipeline,
    PriceList,
    Product,
    SalesTask,
    Stage,
    StageKind,
    TaskKind,
)
from tandem.sales.sequences import (
    sequence_create,
    sequence_enrol,
    sequence_stop_for_contact,
    task_complete,
)

__all__ = [
    "CENT",
    "MAX_MONEY",
    "currency",
    "line_total",
    "money",
    "percent",
    "price_list_create",
    "price_list_update",
    "price_remove",
    "price_set",
    "product_create",
    "product_update",
    "sequence_create",
    "sequence_enrol",
    "sequence_stop_for_contact",
    "task_complete",
    "text",
]


def _timeline(
    deal: Deal,
    *,
    kind: str,
    actor: Actor,
    department: str = Department.SALES,
    properties: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> None:
    first = deal.deal_contacts.select_related("contact__account").order_by("id").first()
    contact = first.contact if first else None
    if contact is None and deal.account_id is None:
        return
    crm.touchpoint_record(
        channel="sales",
        kind=kind,
        department=department,
        contact=contact,
        account=deal.account if contact is None else None,
        actor=actor.user,
        content=deal.name,
        properties={"deal_id": deal.pk, **(properties or {})},
        source="tandem.sales",
        occurred_at=at,
    )


# --- pipelines and settings -----------------------------------------------------------------


@transaction.atomic
def pipeline_create(
    *, actor: Actor, name: str, stages: Iterable[dict[str, Any]], is_default: bool = False
) -> Pipeline:
    """A pipeline with its stages in the given order. It needs at least one open stage, exactly
    one won stage and at least one lost stage. The first pipeline is the default."""
    name = text("name", name, 120, required=True)
    if Pipeline.objects.filter(name=name).exists():
        raise InvalidInput({"name": [_("a pipeline with this name exists")]})
    rows = list(stages)
    kinds = [row.get("kind", StageKind.OPEN) for row in rows]
    if (
        StageKind.OPEN not in kinds
        or kinds.count(StageKind.WON) != 1
        or (StageKind.LOST not in kinds)
    ):
        raise InvalidInput({"stages": [_("needs open stages, one won stage and a lost stage")]})
    is_default = is_default or not Pipeline.objects.exists()
    if is_default:
        Pipeline.objects.filter(is_default=True).update(is_default=False)
    pipeline = Pipeline.objects.create(
        name=name, is_default=is_default, position=Pipeline.objects.count()
    )
    seen: set[str] = set()
    for position, row in enumerate(rows):
        stage_name = text("stages", row.get("name"), 120, required=True)
        if stage_name in seen:
            raise InvalidInput({"stages": [_("stage names must differ")]})
        seen.add(stage_name)
        kind = row.get("kind", StageKind.OPEN)
        if kind not in StageKind.values:
            raise InvalidInput({"stages": [_("unknown stage kind")]})
        probability = row.get("probability")
        if kind == StageKind.WON:
            probability = 100
        elif kind == StageKind.LOST:
            probability = 0
        if (
            isinstance(probability, bool)
            or not isinstance(probability, int)
            or not (0 <= probability <= 100)
        ):
            raise InvalidInput({"stages": [_("a probability is a whole number from 0 to 100")]})
        category = row.get("forecast_category") or {
            StageKind.WON: ForecastCategory.CLOSED,
            StageKind.LOST: ForecastCategory.OMITTED,
        }.get(kind, ForecastCategory.PIPELINE)
        if category not in ForecastCategory.values:
            raise InvalidInput({"stages": [_("unknown forecast category")]})
        Stage.objects.create(
            pipeline=pipeline,
            name=stage_name,
            position=position,
            probability=probability,
            kind=kind,
            forecast_category=category,
        )
    record_change(
        actor=actor,
        action="create",
        instance=pipeline,
        changes={"name": [None, name], "stages": [None, sorted(seen)]},
    )
    return pipeline


def default_pipeline() -> Pipeline:
    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    if pipeline is None:
        raise InvalidInput({"pipeline_id": [_("no pipeline exists yet")]})
    return pipeline


@transaction.atomic
def loss_reason_create(*, actor: Actor, name: str) -> LossReason:
    name = text("name", name, 120, required=True)
    reason, created = LossReason.objects.get_or_create(name=name)
    if created:
        record_change(
            actor=actor, action="create", instance=reason, changes=diff({}, snapshot(reason))
        )
    return reason


# --- deals ----------------------------------------------------------------------------------


def _visible_contacts(actor: Actor, ids: list[int]) -> dict[int, Contact]:
    qs = Contact.objects.all() if actor.user is None else scoped(actor.user, Contact)
    found = {c.pk: c for c in qs.filter(pk__in=ids).select_related("account")}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(
            {"contacts": [_("no such contact: %(ids)s") % {"ids": ", ".join(map(str, missing))}]}
        )
    return found


def _clean_contacts(actor: Actor, rows: Iterable[dict[str, Any]]) -> list[tuple[Contact, str]]:
    pairs: list[tuple[int, str]] = []
    for row in rows:
        try:
            contact_id = int(row["contact_id"])
        except (KeyError, TypeError, ValueError):
            raise InvalidInput({"contacts": [_("each contact needs a contact_id")]}) from None
        role = row.get("role") or BuyingRole.OTHER
        if role not in BuyingRole.values:
            raise InvalidInput({"contacts": [_("unknown buying role %(role)s") % {"role": role}]})
        if contact_id not in [p[0] for p in pairs]:
            pairs.append((contact_id, role))
    found = _visible_contacts(actor, [p[0] for p in pairs])
    return [(found[cid], role) for cid, role in pairs]


def _clean_lines(
    rows: Iterable[dict[str, Any]],
    currency_code: str,
    price_list: PriceList | None,
    on: dt.date,
) -> list[DealLine]:
    """Deal lines priced on day `on` (see `catalogue.line_price`), all in `currency_code`."""
    lines: list[DealLine] = []
    for row in rows:
        try:
            product = Product.objects.get(pk=int(row["product_id"]), active=True)
        except (KeyError, TypeError, ValueError, Product.DoesNotExist):
            raise InvalidInput({"lines": [_("each line needs an active product")]}) from None
        quantity = money("lines", row.get("quantity", "1"))
        if quantity <= 0:
            raise InvalidInput({"lines": [_("a quantity must be more than zero")]})
        unit_price, tax, line_list = line_price(
            product,
            currency_code=currency_code,
            on=on,
            price_list_id=row.get("price_list_id"),
            default_list=price_list,
            unit_price=row.get("unit_price"),
            tax_percent=row.get("tax_percent"),
        )
        discount = percent("lines", row.get("discount_percent"))
        lines.append(
            DealLine(
                product=product,
                price_list=line_list,
                quantity=quantity,
                unit_price=unit_price,
                discount_percent=discount,
                tax_percent=tax,
                total=line_total(quantity, unit_price, discount),
            )
        )
    return lines


def _start_visit(deal: Deal, stage: Stage, actor: Actor, at: dt.datetime) -> None:
    DealStageVisit.objects.filter(deal=deal, left_at__isnull=True).update(left_at=at)
    DealStageVisit.objects.create(deal=deal, stage=stage, entered_at=at, actor=actor.user)


@transaction.atomic
def deal_create(
    *,
    actor: Actor,
    name: str,
    pipeline_id: int | None = None,
    stage_id: int | None = None,
    account_id: int | None = None,
    owner_id: int | None = None,
    amount: Any = "0",
    currency_code: str | None = None,
    close_date: dt.date | None = None,
    contacts: Iterable[dict[str, Any]] = (),
    lines: Iterable[dict[str, Any]] = (),
    price_list_id: int | None = None,
    source: str = DealSource.REP,
    at: dt.datetime | None = None,
) -> Deal:
    """A new open deal. Its contacts become opportunities (the lifecycle moves forward only).
    `at` is when it happened (default now), for records of the past such as the demo's."""
    errors: dict[str, list[str]] = {}
    name = text("name", name, 200, required=True)
    pipeline = (
        Pipeline.objects.filter(pk=pipeline_id).first()
        if pipeline_id is not None
        else default_pipeline()
    )
    if pipeline is None:
        raise InvalidInput({"pipeline_id": [_("no such pipeline")]})
    stages = pipeline.stages.filter(kind=StageKind.OPEN)
    stage = stages.filter(pk=stage_id).first() if stage_id is not None else stages.first()
    if stage is None:
        raise InvalidInput({"stage_id": [_("not an open stage of this pipeline")]})
    account = None
    if account_id is not None:
        accounts = Account.objects.all() if actor.user is None else scoped(actor.user, Account)
        account = accounts.filter(pk=account_id).first()
        if account is None:
            errors["account_id"] = [_("no such account")]
    if owner_id is not None and not User.objects.filter(pk=owner_id, is_active=True).exists():
        errors["owner_id"] = [_("no such active user")]
    if source not in DealSource.values:
        errors["source"] = [_("unknown source")]
    if close_date is not None and not isinstance(close_date, dt.date):
        errors["close_date"] = [_("must be a date")]
    if errors:
        raise InvalidInput(errors)
    code = currency("currency", currency_code or Organisation.current().currency)
    price_list = None
    if price_list_id is not None:
        price_list = PriceList.objects.filter(pk=price_list_id, currency=code).first()
        if price_list is None:
            raise InvalidInput({"price_list_id": [_("no price list in this currency")]})
    deal_contacts = _clean_contacts(actor, contacts)
    deal_lines = _clean_lines(lines, code, price_list, business_date(at))
    total = (
        sum((line.total for line in deal_lines), Decimal("0"))
        if deal_lines
        else money("amount", amount)
    )
    if account is None and deal_contacts:
        account = deal_contacts[0][0].account
    now = at or timezone.now()
    deal = Deal.objects.create(
        name=name,
        pipeline=pipeline,
        stage=stage,
        account=account,
        owner_id=owner_id,
        amount=total,
        currency=code,
        price_list=price_list,
        close_date=close_date,
        source=source,
        stage_entered_at=now,
        created_at=now,
    )
    for line in deal_lines:
        line.deal = deal
    DealLine.objects.bulk_create(deal_lines)
    DealContact.objects.bulk_create(
        [DealContact(deal=deal, contact=c, role=role) for c, role in deal_contacts]
    )
    _start_visit(deal, stage, actor, now)
    record_change(
        actor=actor,
        action="create",
        instance=deal,
        changes={
            **diff({}, snapshot(deal)),
            "contacts": [None, [[c.pk, r] for c, r in deal_contacts]],
            "lines": [
                None,
                [[ln.product_id, str(ln.quantity), str(ln.total)] for ln in deal_lines],
            ],
        },
    )
    department = Department.SELF_SERVICE if source == DealSource.SELF_SERVICE else Department.SALES
    _timeline(
        deal,
        kind="deal_created",
        actor=actor,
        department=department,
        properties={"amount": str(deal.amount), "currency": code},
        at=now,
    )
    for contact, _role in deal_contacts:
        set_lifecycle(
            actor=actor,
            contact=contact,
            stage=LifecycleStage.OPPORTUNITY,
            reason=f"deal {deal.pk} created",
            at=now,
        )
    return deal


DEAL_UPDATE_FIELDS = {
    "name",
    "amount",
    "currency",
    "close_date",
    "owner_id",
    "account_id",
    "forecast_category",
}


@transaction.atomic
def deal_update(*, actor: Actor, deal: Deal, **data: Any) -> Deal:
    """Change a deal's own fields (not its stage: see `deal_move`, `deal_win`, `deal_lose`)."""
    unknown = set(data) - DEAL_UPDATE_FIELDS
    if unknown:
        raise InvalidInput({k: [_("unknown field")] for k in sorted(unknown)})
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    cleaned: dict[str, Any] = {}
    if "name" in data:
        cleaned["name"] = text("name", data["name"], 200, required=True)
    if "amount" in data:
        if deal.lines.exists():
            raise InvalidInput({"amount": [_("the amount follows the deal's products")]})
        cleaned["amount"] = money("amount", data["amount"])
    if "currency" in data:
        cleaned["currency"] = currency("currency", data["currency"])
    if "close_date" in data:
        if data["close_date"] is not None and not isinstance(data["close_date"], dt.date):
            raise InvalidInput({"close_date": [_("must be a date")]})
        cleaned["close_date"] = data["close_date"]
    if "owner_id" in data:
        if (
            data["owner_id"] is not None
            and not User.objects.filter(pk=data["owner_id"], is_active=True).exists()
        ):
            raise InvalidInput({"owner_id": [_("no such active user")]})
        cleaned["owner_id"] = data["owner_id"]
    if "account_id" in data:
        if data["account_id"] is not None:
            accounts = Account.objects.all() if actor.user is None else scoped(actor.user, Account)
            if not accounts.filter(pk=data["account_id"]).exists():
                raise InvalidInput({"account_id": [_("no such account")]})
        cleaned["account_id"] = data["account_id"]
    if "forecast_category" in data:
        category = data["forecast_category"] or ""
        if category and category not in (
            ForecastCategory.PIPELINE,
            ForecastCategory.BEST_CASE,
            ForecastCategory.COMMIT,
            ForecastCategory.OMITTED,
        ):
            raise InvalidInput({"forecast_category": [_("unknown forecast category")]})
        cleaned["forecast_category"] = category
    before = snapshot(deal)
    for field, value in cleaned.items():
        setattr(deal, field, value)
    deal.save(update_fields=[*cleaned, "updated_at"])
    changes = diff(before, snapshot(deal))
    changes.pop("updated_at", None)
    if changes:
        record_change(actor=actor, action="update", instance=deal, changes=changes)
    return deal


@transaction.atomic
def deal_contact_set(*, actor: Actor, deal: Deal, contact_id: int, role: str) -> DealContact:
    """Add a contact to the deal with a buying role, or change their role."""
    ((contact, role),) = _clean_contacts(actor, [{"contact_id": contact_id, "role": role}])
    link, created = DealContact.objects.get_or_create(
        deal=deal, contact=contact, defaults={"role": role}
    )
    old = None if created else link.role
    if not created and link.role != role:
        link.role = role
        link.save(update_fields=["role"])
    if old != role:
        record_change(
            actor=actor,
            action="update",
            instance=deal,
            changes={f"contact_role.{contact.pk}": [old, role]},
        )
    if created and deal.status == DealStatus.OPEN:
        set_lifecycle(
            actor=actor,
            contact=contact,
            stage=LifecycleStage.OPPORTUNITY,
            reason=f"added to deal {deal.pk}",
        )
    return link


@transaction.atomic
def deal_contact_remove(*, actor: Actor, deal: Deal, contact_id: int) -> None:
    deleted, _rows = DealContact.objects.filter(deal=deal, contact_id=contact_id).delete()
    if deleted:
        record_change(
            actor=actor,
            action="update",
            instance=deal,
            changes={f"contact_role.{contact_id}": ["removed", None]},
        )


@transaction.atomic
def deal_lines_set(*, actor: Actor, deal: Deal, lines: Iterable[dict[str, Any]]) -> Deal:
    """Replace the deal's products; the amount becomes their total."""
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    new_lines = _clean_lines(lines, deal.currency, deal.price_list, business_date())
    before = [[ln.product_id, str(ln.quantity), str(ln.total)] for ln in deal.lines.all()]
    deal.lines.all().delete()
    for line in new_lines:
        line.deal = deal
    DealLine.objects.bulk_create(new_lines)
    old_amount = deal.amount
    if new_lines:
        deal.amount = DealLine.objects.filter(deal=deal).aggregate(s=Sum("total"))["s"]
        deal.save(update_fields=["amount", "updated_at"])
    record_change(
        actor=actor,
        action="update",
        instance=deal,
        changes={
            "lines": [
                before,
                [[ln.product_id, str(ln.quantity), str(ln.total)] for ln in new_lines],
            ],
            "amount": [str(old_amount), str(deal.amount)],
        },
    )
    return deal


def _line_row(line: DealLine) -> list[Any]:
    return [line.product_id, str(line.quantity), str(line.total)]


@transaction.atomic
def deal_line_add(
    *,
    actor: Actor,
    deal: Deal,
    product_id: int,
    quantity: Any = "1",
    discount_percent: Any = "0",
    price_list_id: int | None = None,
    unit_price: Any = None,
) -> DealLine:
    """Add one product to the deal, priced from a price list offered today (the named one, else
    the deal's, else the currency's). A deal without lines takes the named list's currency; a
    deal with lines only takes lines in its own currency. The amount becomes the lines' total."""
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    has_lines = deal.lines.exists()
    code = deal.currency
    if price_list_id is not None and not has_lines:
        named = PriceList.objects.filter(pk=price_list_id).first()
        if named is None:
            raise InvalidInput({"price_list_id": [_("no such price list")]})
        code = named.currency
    (line,) = _clean_lines(
        [
            {
                "product_id": product_id,
                "quantity": quantity,
                "discount_percent": discount_percent,
                "price_list_id": price_list_id,
                "unit_price": unit_price,
            }
        ],
        code,
        deal.price_list,
        business_date(),
    )
    line.deal = deal
    line.save()
    before = snapshot(deal, ["amount", "currency"])
    deal.amount = DealLine.objects.filter(deal=deal).aggregate(s=Sum("total"))["s"]
    deal.currency = code
    deal.save(update_fields=["amount", "currency", "updated_at"])
    record_change(
        actor=actor,
        action="update",
        instance=deal,
        changes={
            "lines.added": [
                None,
                [*_line_row(line), line.price_list_id, str(line.unit_price), str(line.tax_percent)],
            ],
            **diff(before, snapshot(deal, ["amount", "currency"])),
        },
    )
    return line


@transaction.atomic
def deal_line_remove(*, actor: Actor, deal: Deal, line_id: int) -> Deal:
    """Take one line off the deal; the amount becomes the remaining lines' total (a deal left
    without lines keeps the amount it had)."""
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    line = DealLine.objects.filter(pk=line_id, deal=deal).first()
    if line is None:
        raise InvalidInput({"line_id": [_("no such line on this deal")]}, code="not_found")
    removed = _line_row(line)
    line.delete()
    before = snapshot(deal, ["amount"])
    remaining = DealLine.objects.filter(deal=deal).aggregate(s=Sum("total"))["s"]
    if remaining is not None:
        deal.amount = remaining
        deal.save(update_fields=["amount", "updated_at"])
    record_change(
        actor=actor,
        action="update",
        instance=deal,
        changes={"lines.removed": [removed, None], **diff(before, snapshot(deal, ["amount"]))},
    )
    return deal


def _locked_open(deal: Deal) -> Deal:
    deal = Deal.objects.select_for_update().select_related("stage").get(pk=deal.pk)
    if deal.status != DealStatus.OPEN:
        raise InvalidInput({"stage_id": [_("the deal is closed; reopen it first")]}, code="closed")
    return deal


def _change_stage(
    deal: Deal, stage: Stage, actor: Actor, at: dt.datetime | None = None, **extra: Any
) -> dict[str, Any]:
    now = at or timezone.now()
    before = snapshot(deal)
    deal.stage = stage
    deal.stage_entered_at = now
    fields = ["stage", "stage_entered_at", "updated_at", *extra]
    for key, value in extra.items():
        setattr(deal, key, value)
    deal.save(update_fields=fields)
    _start_visit(deal, stage, actor, now)
    changes = diff(before, snapshot(deal))
    changes.pop("updated_at", None)
    changes.pop("stage_entered_at", None)
    record_change(actor=actor, action="update", instance=deal, changes=changes)
    return changes


@transaction.atomic
def deal_move(
    *,
    actor: Actor,
    deal: Deal,
    stage_id: int,
    department: str = Department.SALES,
    reason: str = "",
    at: dt.datetime | None = None,
) -> Deal:
    """Move an open deal to another open stage of its pipeline (won and lost have their own
    operations, since they need more than a stage). `at`: when (default now)."""
    deal = _locked_open(deal)
    stage = Stage.objects.filter(pk=stage_id, pipeline_id=deal.pipeline_id).first()
    if stage is None:
        raise InvalidInput({"stage_id": [_("not a stage of this deal's pipeline")]})
    if stage.kind == StageKind.WON:
        return deal_win(actor=actor, deal=deal, department=department, reason=reason, at=at)
    if stage.kind == StageKind.LOST:
        raise InvalidInput({"loss_reason_id": [_("a lost deal needs a reason")]})
    if stage.pk == deal.stage_id:
        return deal
    old = deal.stage
    _change_stage(deal, stage, actor, at)
    _timeline(
        deal,
        kind="deal_stage_changed",
        actor=actor,
        department=department,
        properties={"from": old.name, "to": stage.name, "reason": reason},
        at=at,
    )
    return deal


@transaction.atomic
def deal_win(
    *,
    actor: Actor,
    deal: Deal,
    department: str = Department.SALES,
    reason: str = "",
    at: dt.datetime | None = None,
) -> Deal:
    """Close the deal as won; its contacts become customers. `at`: when (default now)."""
    deal = _locked_open(deal)
    stage = Stage.objects.filter(pipeline_id=deal.pipeline_id, kind=StageKind.WON).first()
    if stage is None:
        raise InvalidInput({"stage_id": [_("this pipeline has no won stage")]})
    now = at or timezone.now()
    _change_stage(deal, stage, actor, now, status=DealStatus.WON, closed_at=now)
    _timeline(
        deal,
        kind="deal_won",
        actor=actor,
        department=department,
        properties={"amount": str(deal.amount), "currency": deal.currency, "reason": reason},
        at=now,
    )
    for link in deal.deal_contacts.select_related("contact"):
        set_lifecycle(
            actor=actor,
            contact=link.contact,
            stage=LifecycleStage.CUSTOMER,
            reason=f"deal {deal.pk} won",
            at=now,
        )
    return deal


@transaction.atomic
def deal_lose(
    *,
    actor: Actor,
    deal: Deal,
    loss_reason_id: int | None,
    note: str = "",
    stage_id: int | None = None,
    at: dt.datetime | None = None,
) -> Deal:
    """Close the deal as lost, with a reason from the list and an optional note. `at`: when
    (default now)."""
    note = text("note", note, 5000)
    reason = (
        LossReason.objects.filter(pk=loss_reason_id, active=True).first()
        if (loss_reason_id is not None)
        else None
    )
    if reason is None:
        raise InvalidInput({"loss_reason_id": [_("choose a reason from the list")]})
    deal = _locked_open(deal)
    lost = Stage.objects.filter(pipeline_id=deal.pipeline_id, kind=StageKind.LOST)
    stage = lost.filter(pk=stage_id).first() if stage_id is not None else lost.first()
    if stage is None:
        raise InvalidInput({"stage_id": [_("not a lost stage of this pipeline")]})
    now = at or timezone.now()
    _change_stage(
        deal,
        stage,
        actor,
        now,
        status=DealStatus.LOST,
        closed_at=now,
        loss_reason=reason,
        loss_note=note,
    )
    _timeline(
        deal,
        kind="deal_lost",
        actor=actor,
        properties={"reason": reason.name, "note": note[:500]},
        at=now,
    )
    return deal


@transaction.atomic
def deal_reopen(*, actor: Actor, deal: Deal, stage_id: int | None = None) -> Deal:
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    if deal.status == DealStatus.OPEN:
        return deal
    stages = Stage.objects.filter(pipeline_id=deal.pipeline_id, kind=StageKind.OPEN)
    stage = stages.filter(pk=stage_id).first() if stage_id is not None else stages.last()
    if stage is None:
        raise InvalidInput({"stage_id": [_("not an open stage of this pipeline")]})
    _change_stage(
        deal, stage, actor, status=DealStatus.OPEN, closed_at=None, loss_reason=None, loss_note=""
    )
    _timeline(deal, kind="deal_reopened", actor=actor)
    return deal


@transaction.atomic
def deal_share(*, actor: Actor, deal: Deal, user_id: int) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise InvalidInput({"user_id": [_("no such active user")]})
    if not deal.shared_with.filter(pk=user.pk).exists():
        deal.shared_with.add(user)
        record_change(
            actor=actor, action="update", instance=deal, changes={"shared_with": [None, user.pk]}
        )


@transaction.atomic
def deal_delete(*, actor: Actor, deal: Deal) -> None:
    """Delete a deal with its lines, roles, history and quotes (head and admin only, by scope)."""
    record_change(actor=actor, action="delete", instance=deal, changes=diff(snapshot(deal), {}))
    DealStageVisit.objects.filter(deal=deal).delete()
    deal.delete()


@transaction.atomic
def task_create(
    *,
    actor: Actor,
    owner: User,
    title: str,
    due_on: dt.date,
    contact: Contact | None = None,
    deal: Deal | None = None,
    kind: str = TaskKind.TODO,
) -> SalesTask:
    """A task on someone's "My tasks" (automation flows' task step, other apps' follow-ups),
    audited; a sequence's own step tasks are made by `sequences` (one per enrolment and step)."""
    title = " ".join((title or "").split())[:300]
    if not title:
        raise InvalidInput({"title": [_("This field is required.")]})
    if kind not in TaskKind.values:
        raise InvalidInput({"kind": [_("Unknown kind.")]})
    task = SalesTask.objects.create(
        owner=owner, contact=contact, deal=deal, kind=kind, title=title, due_on=due_on
    )
    record_change(actor=actor, action="create", instance=task, changes=diff({}, snapshot(task)))
    return task


# The quote operations (`quotes.quote_create`, `quote_send`, `quote_viewed`, `quote_accept`, ...)
# live in `tandem.sales.quotes`; other apps reach them as `services.quotes`.
from tandem.sales import quotes as quotes  # noqa: E402
