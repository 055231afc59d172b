"""API endpoints about the caller: who am I (`/me`) and my API tokens (`/tokens`).

Invariants:
- a caller sees and revokes only their own tokens; another user's token is a 404;
- a token's secret is in the answer to its creation and nowhere else, ever;
- new tokens are created only from a signed-in session, not with another token: a leaked token
  must not be able to mint tokens that outlive its revocation.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field

from tandem.core.access import can
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.models import ApiToken, ApiTokenScope
from tandem.core.tokens import token_create, token_revoke, tokens_of

router = Router(tags=["me"])

MAX_ID = 2**63 - 1


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("may not contain NUL characters")
    return value


def _reasonable_expiry(value: dt.datetime) -> dt.datetime:
    if value.astimezone(dt.UTC).year > 2200:
        raise ValueError("must be before 2200")
    return value


class TokenBrief(Schema):
    id: int
    name: str
    scope: str


class MeOut(Schema):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    role: str
    department: str | None
    team: str | None
    language: str
    token: TokenBrief | None = Field(description="The token of this request, if any.")


class TokenIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(no_nul)]
    scope: ApiTokenScope = ApiTokenScope.READ
    expires_at: Annotated[AwareDatetime, AfterValidator(_reasonable_expiry)] | None = None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    scope: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    secret: str = Field(description="Shown once: store it now, it cannot be shown again.")


ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


@router.get("/me", response={200: MeOut, **ERRORS})
def me(request: HttpRequest) -> dict[str, Any]:
    who = caller(request)
    user = who.user
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "department": user.department,
        "team": user.team.name if user.team else None,
        "language": user.language,
        "token": who.token,
    }


def _token_user(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "use_api_tokens"):
        raise ApiError(403, "forbidden", _("You may not manage API tokens."))
    return who


@router.get("/tokens", response={200: list[TokenOut], **ERRORS})
def list_tokens(request: HttpRequest) -> list[ApiToken]:
    """The caller's own tokens, newest first, revoked ones included."""
    return list(tokens_of(_token_user(request).user)[:200])


@router.post("/tokens", response={201: TokenCreated, **ERRORS, 413: Error, 415: Error})
def create_token(request: HttpRequest, payload: TokenIn) -> Status[dict[str, Any]]:
    """Create a token for yourself (signed-in session only). The secret is in this answer only."""
    who = _token_user(request)
    if who.token is not None:
        raise ApiError(
            403,
            "session_required",
            _("Tokens can only be created while signed in, not with a token."),
        )
    new = token_create(
        actor=who.actor,
        user=who.user,
        name=payload.name,
        scope=payload.scope,
        expires_at=payload.expires_at,
    )
    return Status(201, {**TokenOut.model_validate(new.token).model_dump(), "secret": new.secret})


@router.delete("/tokens/{token_id}", response={204: None, **ERRORS})
def revoke_token(
    request: HttpRequest, token_id: Annotated[int, Field(ge=1, le=MAX_ID)]
) -> Status[None]:
    """Revoke one of your tokens (revoking a revoked token is not an error)."""
    who = _token_user(request)
    token = tokens_of(who.user).filter(pk=token_id).first()
    if token is None:
        raise ApiError(404, "not_found", _("No such token."))
    token_revoke(actor=who.actor, token=token)
    return Status(204, None)
