"""Writes of the insights app: the shared goals the head sets.

    goal_set(actor=..., kind="revenue", period="quarter", day=date(2026, 10, 5), team_id=None,
             target=Decimal("250000"))
    goal_set(..., kind="revenue", team_id=None, user_id=rep.pk, ...)   # the rep's quota

Invariants:
- only a user holding `manage_goals` sets or removes a goal (`InvalidInput`, code "forbidden");
- `day` may be any day of the period: the goal is stored on the period's first and last day
  (fiscal quarters follow the organisation's fiscal year start);
- setting a goal that exists changes its target (one row per kind, period, start and team, or
  per period, start and rep for a quota);
- a quota (`user_id`) is a revenue goal of one active sales or field rep, never of a team too;
- every change is audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.access import can, roles_with
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Organisation, Team, User
from tandem.insights.models import Goal, GoalKind, GoalPeriod
from tandem.insights.periods import EARLIEST, LATEST, period_end, period_start

MAX_TARGET = Decimal("99999999999999.99")


def _check_actor(actor: Actor) -> None:
    if not can(actor.user, "manage_goals"):
        raise InvalidInput(_("Only the head of sales and marketing sets goals."), code="forbidden")


def _clean_target(kind: str, target: Any) -> Decimal:
    try:
        value = Decimal(str(target))
    except (InvalidOperation, ValueError):
        raise InvalidInput({"target": [_("Enter a number.")]}) from None
    if not value.is_finite() or value < 0 or value > MAX_TARGET:
        raise InvalidInput({"target": [_("Enter a number from 0 to %(max)s.") % {"max": "10¹⁴"}]})
    if kind == GoalKind.MQL and value != value.to_integral_value():
        raise InvalidInput({"target": [_("An MQL goal is a whole number.")]})
    return value.quantize(Decimal("0.01"))


@transaction.atomic
def goal_set(
    *,
    actor: Actor,
    kind: str,
    period: str,
    day: dt.date,
    team_id: int | None,
    target: Any,
    user_id: int | None = None,
) -> Goal:
    """Set (create or change) the goal of `kind` for the period containing `day`; with
    `user_id`, that rep's quota (a revenue goal)."""
    _check_actor(actor)
    errors: dict[str, list[str]] = {}
    if kind not in GoalKind.values:
        errors["kind"] = [_("Choose revenue, pipeline or MQLs.")]
    if period not in GoalPeriod.values:
        errors["period"] = [_("Choose a quarter or a month.")]
    if not EARLIEST <= day <= LATEST:
        errors["day"] = [_("must be between %(a)s and %(b)s") % {"a": EARLIEST, "b": LATEST}]
    if team_id is not None and not Team.objects.filter(pk=team_id).exists():
        errors["team"] = [_("No such team.")]
    if user_id is not None:
        if not User.objects.filter(
            pk=user_id, is_active=True, role__in=roles_with("carry_quota")
        ).exists():
            errors["user"] = [_("Choose an active sales or field rep.")]
        elif team_id is not None:
            errors["team"] = [_("A rep's quota belongs to the rep, not to a team.")]
        elif kind != GoalKind.REVENUE:
            errors["kind"] = [_("A rep's quota is a revenue goal.")]
    if errors:
        raise InvalidInput(errors)
    value = _clean_target(kind, target)
    starts_on = period_start(day, period, Organisation.current().fiscal_year_start_month)
    key = {
        "kind": kind,
        "period": period,
        "starts_on": starts_on,
        "team_id": team_id,
        "user_id": user_id,
    }
    goal = Goal.objects.select_for_update().filter(**key).first()
    if goal is None:
        try:
            with transaction.atomic():
                goal = Goal.objects.create(
                    **key,
                    ends_on=period_end(starts_on, period),
                    target=value,
                    set_by=actor.user,
                )
        except IntegrityError:  # set at the same moment by someone else: change theirs
            goal = Goal.objects.select_for_update().get(**key)
        else:
            record_change(
                actor=actor, action="create", instance=goal, changes=diff({}, snapshot(goal))
            )
            return goal
    before = snapshot(goal)
    goal.target = value
    goal.set_by = actor.user
    goal.updated_at = timezone.now()
    goal.save(update_fields=["target", "set_by", "updated_at"])
    changes = diff(before, snapshot(goal))
    changes.pop("updated_at", None)
    if changes:
        record_change(actor=actor, action="update", instance=goal, changes=changes)
    return goal


@transaction.atomic
def goal_remove(*, actor: Actor, goal_id: int) -> None:
    _check_actor(actor)
    goal = Goal.objects.select_for_update().filter(pk=goal_id).first()
    if goal is None:
        raise InvalidInput(_("That goal no longer exists."), code="not_found")
    record_change(actor=actor, action="delete", instance=goal, changes=diff(snapshot(goal), {}))
    goal.delete()
