"""The rules hand-offs follow, set by the head or an admin: territories (where a lead goes by
region and industry, and whose reps share it), each rep's capacity and round-robin weight, the
hand-off policy (the SLA on the sales side: accept within, first contact within, re-routes) and
marketing's side of the agreement (MQL targets per month). One service per change; `routing`
and `services._assign` read these rows when the next hand-off is routed.

Invariants:
- each change is one transaction with its audit entry; bad input raises `InvalidInput` on its
  field before anything is written;
- territory members and heads, and reps given a capacity, are active users; a capacity is only
  for sales reps (routing gives leads to sales reps only);
- the policy is one row (`HandoffPolicy.current()`); its hours are business hours, more than 0
  and at most 720; open hand-offs keep the deadlines they were given;
- an MQL target is per month (stored on its first day), unique, from 0 to 1,000,000;
- `RepCapacity.open_count` and `assigned_total` are routing's counters: these services never
  write them (a new row starts at 0).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Role, User
from tandem.crm.models import Industry
from tandem.leads.models import HandoffPolicy, MqlTarget, RepCapacity, Territory

MAX_HOURS = 720.0
MAX_WEIGHT = 100
MAX_CAPACITY = 10_000
MAX_TARGET = 1_000_000


def _text(field: str, value: Any, limit: int, *, required: bool = False) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidInput({field: [_("must be text")]})
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise InvalidInput({field: [_("is required")]})
    if len(cleaned) > limit:
        raise InvalidInput({field: [_("at most %(n)d characters") % {"n": limit}]})
    return cleaned


def _whole(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high):
        raise InvalidInput(
            {field: [_("a whole number from %(low)d to %(high)d") % {"low": low, "high": high}]}
        )
    return value


def _active_users(field: str, ids: Iterable[Any]) -> list[User]:
    wanted = []
    for raw in ids:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InvalidInput({field: [_("no such active user")]})
        wanted.append(raw)
    found = {u.pk: u for u in User.objects.filter(pk__in=wanted, is_active=True)}
    if len(found) != len(set(wanted)):
        raise InvalidInput({field: [_("no such active user")]})
    return [found[pk] for pk in dict.fromkeys(wanted)]


# --- territories ----------------------------------------------------------------------------


def _territory_fields(data: dict[str, Any], territory: Territory | None) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    if "name" in data:
        cleaned["name"] = _text("name", data["name"], 100, required=True)
        others = Territory.objects.filter(name__iexact=cleaned["name"])
        if territory is not None:
            others = others.exclude(pk=territory.pk)
        if others.exists():
            raise InvalidInput({"name": [_("a territory with this name exists")]})
    if "region" in data:
        cleaned["region"] = _text("region", data["region"], 100)
    if "industry" in data:
        industry = data["industry"] or ""
        if industry and industry not in Industry.values:
            raise InvalidInput({"industry": [_("unknown industry")]})
        cleaned["industry"] = industry
    if "head_id" in data:
        head_id = data["head_id"]
        cleaned["head"] = _active_users("head_id", [head_id])[0] if head_id is not None else None
    return cleaned


def _save_territory(
    actor: Actor, territory: Territory, cleaned: dict[str, Any], member_ids: Any, created: bool
) -> Territory:
    before = {} if created else snapshot(territory)
    before_members = [] if created else sorted(territory.members.values_list("pk", flat=True))
    for field, value in cleaned.items():
        setattr(territory, field, value)
    if created:
        territory.save()
    elif cleaned:
        territory.save(update_fields=list(cleaned))
    changes = diff(before, snapshot(territory))
    if member_ids is not None:
        members = _active_users("member_ids", member_ids)
        territory.members.set(members)
        after_members = sorted(u.pk for u in members)
        if after_members != before_members:
            changes["members"] = [before_members, after_members]
    if changes:
        record_change(
            actor=actor,
            action="create" if created else "update",
            instance=territory,
            changes=changes,
        )
    return territory


@transaction.atomic
def territory_create(
    *,
    actor: Actor,
    name: str,
    region: str = "",
    industry: str = "",
    head_id: int | None = None,
    member_ids: Iterable[int] = (),
) -> Territory:
    """A territory: leads of accounts in its region and industry (blank = any) go round-robin
    to its members."""
    data = {"name": name, "region": region, "industry": industry, "head_id": head_id}
    cleaned = _territory_fields(data, None)
    return _save_territory(actor, Territory(), cleaned, list(member_ids), created=True)


TERRITORY_FIELDS = {"name", "region", "industry", "head_id", "member_ids"}


@transaction.atomic
def territory_update(*, actor: Actor, territory_id: int, **data: Any) -> Territory:
    """Change a territory's name, region, industry, head or members (`member_ids` replaces
    them all)."""
    unknown = set(data) - TERRITORY_FIELDS
    if unknown:
        raise InvalidInput({k: [_("unknown field")] for k in sorted(unknown)})
    territory = Territory.objects.select_for_update().filter(pk=territory_id).first()
    if territory is None:
        raise InvalidInput({"territory_id": [_("no such territory")]}, code="not_found")
    cleaned = _territory_fields(data, territory)
    member_ids = data.get("member_ids")
    if "member_ids" in data and member_ids is None:
        raise InvalidInput({"member_ids": [_("a list of users")]})
    return _save_territory(actor, territory, cleaned, member_ids, created=False)


@transaction.atomic
def territory_delete(*, actor: Actor, territory_id: int) -> None:
    """Remove a territory; hand-offs it routed keep their rep and forget the territory."""
    territory = Territory.objects.select_for_update().filter(pk=territory_id).first()
    if territory is None:
        raise InvalidInput({"territory_id": [_("no such territory")]}, code="not_found")
    record_change(
        actor=actor,
        action="delete",
        instance=territory,
        changes={
            **diff(snapshot(territory), {}),
            "members": [sorted(territory.members.values_list("pk", flat=True)), None],
        },
    )
    territory.delete()


# --- rep capacity ---------------------------------------------------------------------------


@transaction.atomic
def rep_capacity_set(
    *,
    actor: Actor,
    user_id: int,
    weight: int = 1,
    capacity: int = 20,
    is_available: bool = True,
) -> RepCapacity:
    """A sales rep's round-robin weight (0 = takes no round-robin leads), how many open
    hand-offs they take at once, and whether they take any now (away: not available)."""
    (rep,) = _active_users("user_id", [user_id])
    if rep.role != Role.SALES_REP:
        raise InvalidInput({"user_id": [_("only sales reps are routed leads")]})
    weight = _whole("weight", weight, 0, MAX_WEIGHT)
    capacity = _whole("capacity", capacity, 0, MAX_CAPACITY)
    if not isinstance(is_available, bool):
        raise InvalidInput({"is_available": [_("must be true or false")]})
    row, created = RepCapacity.objects.select_for_update().get_or_create(
        user=rep,
        defaults={"weight": weight, "capacity": capacity, "is_available": is_available},
    )
    fields = ["weight", "capacity", "is_available"]
    before = {} if created else snapshot(row, fields)
    if not created:
        row.weight, row.capacity, row.is_available = weight, capacity, is_available
        row.save(update_fields=fields)
    changes = diff(before, snapshot(row, fields))
    if changes:
        record_change(
            actor=actor,
            action="create" if created else "update",
            instance=row,
            changes={**changes, "user": [None, rep.pk]} if created else changes,
        )
    return row


# --- the hand-off policy --------------------------------------------------------------------


def _hours(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput({field: [_("a number of hours")]})
    hours = float(value)
    if not (0 < hours <= MAX_HOURS):
        raise InvalidInput(
            {field: [_("more than 0 and at most %(max)d hours") % {"max": int(MAX_HOURS)}]}
        )
    return hours


@transaction.atomic
def handoff_policy_set(
    *,
    actor: Actor,
    accept_within_hours: float,
    first_contact_within_hours: float,
    max_escalations: int,
) -> HandoffPolicy:
    """The SLA both sides agreed, in business hours: the next hand-off routed gets deadlines by
    it; open ones keep theirs."""
    values = {
        "accept_within_hours": _hours("accept_within_hours", accept_within_hours),
        "first_contact_within_hours": _hours(
            "first_contact_within_hours", first_contact_within_hours
        ),
        "max_escalations": _whole("max_escalations", max_escalations, 0, 20),
    }
    HandoffPolicy.current()
    policy = HandoffPolicy.objects.select_for_update().get(pk=1)
    before = snapshot(policy, list(values))
    for field, value in values.items():
        setattr(policy, field, value)
    policy.save(update_fields=list(values))
    changes = diff(before, snapshot(policy, list(values)))
    if changes:
        record_change(actor=actor, action="update", instance=policy, changes=changes)
    return policy


# --- MQL targets ----------------------------------------------------------------------------


def _month(value: Any) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise InvalidInput({"month": [_("must be a date")]})
    return value.replace(day=1)


@transaction.atomic
def mql_target_set(*, actor: Actor, month: dt.date, target: int) -> MqlTarget:
    """The MQLs marketing commits to deliver in the month of `month` (set or changed)."""
    first = _month(month)
    target = _whole("target", target, 0, MAX_TARGET)
    row, created = MqlTarget.objects.select_for_update().get_or_create(
        month=first, defaults={"target": target}
    )
    before = None if created else row.target
    if not created and row.target != target:
        row.target = target
        row.save(update_fields=["target"])
    if before != target:
        record_change(
            actor=actor,
            action="create" if created else "update",
            instance=row,
            changes={"month": [None, first.isoformat()], "target": [before, target]},
        )
    return row


@transaction.atomic
def mql_target_remove(*, actor: Actor, month: dt.date) -> bool:
    """Remove the month's target; False if it had none."""
    row = MqlTarget.objects.select_for_update().filter(month=_month(month)).first()
    if row is None:
        return False
    record_change(
        actor=actor,
        action="delete",
        instance=row,
        changes={"month": [row.month.isoformat(), None], "target": [row.target, None]},
    )
    row.delete()
    return True
