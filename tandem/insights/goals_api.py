"""API of the shared goals and the reps' quotas (the goals page's operations).

    GET    /api/v1/insights/goals[?running_on=YYYY-MM-DD]   every goal (anyone signed in)
    POST   /api/v1/insights/goals                           set a goal (create or change)
    DELETE /api/v1/insights/goals/{id}                      remove a goal

Setting and removing need the `manage_goals` capability (head, admin) and a write token (or the
session); both go through `tandem.insights.services`, audited there. A bad kind, period, team,
rep or target is a 400 whose `details` name the field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from tandem.core.access import can, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.insights import services
from tandem.insights.models import Goal, GoalKind, GoalPeriod

router = Router(tags=["insights"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


class GoalOut(Schema):
    id: int
    kind: str
    period: str
    starts_on: dt.date
    ends_on: dt.date
    team: int | None = Field(description="the team's id; null: joint goal or a rep's quota")
    user: int | None = Field(description="the rep's id for a rep's quota, else null")
    target: Decimal


class GoalIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: GoalKind
    period: GoalPeriod = GoalPeriod.QUARTER
    day: dt.date = Field(description="any day of the period")
    team: int | None = Field(None, ge=1, lt=2**31, description="a team's id; null: joint")
    user: int | None = Field(
        None, ge=1, lt=2**31, description="a sales or field rep's id: that rep's revenue quota"
    )
    target: Decimal = Field(ge=0, max_digits=16, decimal_places=2)


class GoalFilters(Schema):
    model_config = ConfigDict(extra="forbid")

    running_on: dt.date | None = Field(None, description="only the goals whose period has it")


def _out(goal: Goal) -> dict[str, Any]:
    return {
        "id": goal.pk,
        "kind": goal.kind,
        "period": goal.period,
        "starts_on": goal.starts_on,
        "ends_on": goal.ends_on,
        "team": goal.team_id,
        "user": goal.user_id,
        "target": goal.target,
    }


def _manager(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not who.can_write or not can(who.user, "manage_goals"):
        raise ApiError(403, "forbidden", _("Only the head of sales and marketing sets goals."))
    return who


@router.get("/goals", response={200: list[GoalOut], **ERRORS})
def list_goals(request: HttpRequest, filters: Query[GoalFilters]) -> list[dict[str, Any]]:
    """Every goal, newest period first (at most 500)."""
    goals = scoped(caller(request).user, Goal)
    if filters.running_on is not None:
        goals = goals.filter(starts_on__lte=filters.running_on, ends_on__gte=filters.running_on)
    return [_out(goal) for goal in goals[:500]]


@router.post("/goals", response={200: GoalOut, **ERRORS})
def set_goal(request: HttpRequest, payload: GoalIn) -> dict[str, Any]:
    """Set the goal of a kind for the period holding `day` (for everyone, a team or, with
    `user`, a rep's revenue quota); setting it again changes its target."""
    who = _manager(request)
    goal = services.goal_set(
        actor=who.actor,
        kind=payload.kind,
        period=payload.period,
        day=payload.day,
        team_id=payload.team,
        user_id=payload.user,
        target=payload.target,
    )
    return _out(goal)


@router.delete("/goals/{goal_id}", response={204: None, **ERRORS})
def remove_goal(request: HttpRequest, goal_id: int) -> Status:
    who = _manager(request)
    if not Goal.objects.filter(pk=goal_id).exists():
        raise ApiError(404, "not_found", _("That goal no longer exists."))
    services.goal_remove(actor=who.actor, goal_id=goal_id)
    return Status(204, None)
