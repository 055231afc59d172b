"""API operations on people and teams, for holders of the `manage_users` capability.

    GET  /users                       every user (name, email, role, team, active, last sign-in)
    POST /users/invite                invite by email (a set-password link is emailed)
    POST /users/{id}/invite           send the invitation again (no password set yet)
    PATCH /users/{id}                 role, team, name
    POST /users/{id}/deactivate       switch off and hand their records to a successor
    GET  /teams, POST /teams, PATCH /teams/{id}

Invariants:
- every operation asks `can(caller, "manage_users")` first: anyone else gets 403, before any
  input is looked at;
- writes go through `core.services` (the same functions the pages call); bad input is a 400
  with the reason per field, an unknown user or team a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import AfterValidator, ConfigDict, Field

from tandem.core import services
from tandem.core.access import can
from tandem.core.api import no_nul
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.invitations import site_url_of
from tandem.core.models import TEAM_DEPARTMENTS, Role, Team, User
from tandem.core.two_factor import two_factor_reset

router = Router(tags=["users"])

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}
Department = Annotated[str, Field(pattern="^(" + "|".join(v for v, _l in TEAM_DEPARTMENTS) + ")$")]
Name = Annotated[str, Field(max_length=150), AfterValidator(no_nul)]


class TeamOut(Schema):
    id: int
    name: str
    department: str
    region: str


class UserOut(Schema):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    role: str
    team_id: int | None
    is_active: bool
    last_login: dt.datetime | None
    time_zone: str
    language: str


class InviteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=1, max_length=150), AfterValidator(no_nul)]
    role: Role
    team_id: Id | None = None
    first_name: Name = ""
    last_name: Name = ""


class UserChangeIn(Schema):
    """Only the fields sent change; `team_id: null` takes the user out of their team."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    team_id: Id | None = None
    first_name: Name | None = None
    last_name: Name | None = None


class DeactivateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    successor_id: Id | None = Field(
        default=None, description="Who takes over their records; needed when they own any."
    )


class Deactivated(Schema):
    user: UserOut
    moved: dict[str, int] = Field(description="Records handed over, by kind.")


class TeamIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(no_nul)]
    department: Department
    region: Annotated[str, Field(max_length=100), AfterValidator(no_nul)] = ""


def _manager(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "manage_users"):
        raise ApiError(403, "forbidden", _("You may not manage users and teams."))
    return who


def _user_or_404(user_id: int) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise ApiError(404, "not_found", _("No such user."))
    return user


@router.get("/users", response={200: list[UserOut], **ERRORS})
def list_users(request: HttpRequest) -> list[User]:
    """Every user, active ones first, by name."""
    _manager(request)
    return list(
        User.objects.order_by("-is_active", "first_name", "last_name", "username", "pk")[:1000]
    )


@router.post("/users/invite", response={201: UserOut, **ERRORS, 413: Error, 415: Error})
def invite_user(request: HttpRequest, payload: InviteIn) -> Status[User]:
    """Create a user without a password and email them a link to choose one."""
    who = _manager(request)
    user = services.user_invite(
        actor=who.actor,
        email=payload.email,
        role=payload.role,
        team_id=payload.team_id,
        first_name=payload.first_name,
        last_name=payload.last_name,
        site_url=site_url_of(request),
    )
    return Status(201, user)


@router.post("/users/{user_id}/invite", response={202: UserOut, **ERRORS, 413: Error, 415: Error})
def resend_invitation(request: HttpRequest, user_id: Id) -> Status[User]:
    """Email an invited user a fresh set-password link (400 once they have set a password)."""
    who = _manager(request)
    _user_or_404(user_id)
    user = services.user_invite_resend(
        actor=who.actor, user_id=user_id, site_url=site_url_of(request)
    )
    return Status(202, user)


@router.patch("/users/{user_id}", response={200: UserOut, **ERRORS, 413: Error, 415: Error})
def change_user(request: HttpRequest, user_id: Id, payload: UserChangeIn) -> User:
    """Change a user's role, team or name."""
    who = _manager(request)
    _user_or_404(user_id)
    sent = payload.model_fields_set
    keep = services.KEEP
    return services.user_change(
        actor=who.actor,
        user_id=user_id,
        role=payload.role if "role" in sent and payload.role is not None else keep,
        team_id=payload.team_id if "team_id" in sent else keep,
        first_name=payload.first_name
        if "first_name" in sent and payload.first_name is not None
        else keep,
        last_name=payload.last_name
        if "last_name" in sent and payload.last_name is not None
        else keep,
    )


@router.post(
    "/users/{user_id}/deactivate", response={200: Deactivated, **ERRORS, 413: Error, 415: Error}
)
def deactivate_user(request: HttpRequest, user_id: Id, payload: DeactivateIn) -> dict[str, Any]:
    """Switch a user off; everything they own goes to `successor_id` in one transaction."""
    who = _manager(request)
    _user_or_404(user_id)
    moved = services.user_deactivate(
        actor=who.actor, user_id=user_id, successor_id=payload.successor_id
    )
    return {"user": User.objects.get(pk=user_id), "moved": moved}


@router.post(
    "/users/{user_id}/two-factor/reset",
    response={200: UserOut, **ERRORS, 413: Error, 415: Error},
)
def reset_two_factor(request: HttpRequest, user_id: Id) -> User:
    """Turn off another user's two-factor sign-in (lost phone and recovery codes): their
    authenticator and recovery codes stop working; audited. Not for your own (400)."""
    who = _manager(request)
    _user_or_404(user_id)
    return two_factor_reset(actor=who.actor, user_id=user_id)


@router.get("/teams", response={200: list[TeamOut], **ERRORS})
def list_teams(request: HttpRequest) -> list[Team]:
    _manager(request)
    return list(Team.objects.all()[:1000])


@router.post("/teams", response={201: TeamOut, **ERRORS, 413: Error, 415: Error})
def create_team(request: HttpRequest, payload: TeamIn) -> Status[Team]:
    who = _manager(request)
    team = services.team_create(
        actor=who.actor, name=payload.name, department=payload.department, region=payload.region
    )
    return Status(201, team)


@router.patch("/teams/{team_id}", response={200: TeamOut, **ERRORS, 413: Error, 415: Error})
def change_team(request: HttpRequest, team_id: Id, payload: TeamIn) -> Team:
    """Rename a team or change its department or region (all three are sent)."""
    who = _manager(request)
    if not Team.objects.filter(pk=team_id).exists():
        raise ApiError(404, "not_found", _("No such team."))
    return services.team_update(
        actor=who.actor,
        team_id=team_id,
        name=payload.name,
        department=payload.department,
        region=payload.region,
    )
