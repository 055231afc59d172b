"""API endpoints about the caller: who am I (`/me`), my API tokens (`/tokens`), my two-factor
sign-in (`/me/two-factor`), and whether the organisation requires it of admins
(`/organisation/two-factor`, for those who manage settings).

Invariants:
- a caller sees and revokes only their own tokens; another user's token is a 404;
- a token's secret is in the answer to its creation and nowhere else, ever;
- new tokens are created only from a signed-in session, not with another token: a leaked token
  must not be able to mint tokens that outlive its revocation; for the same reason two-factor
  sign-in is changed only from a session;
- recovery codes never cross the API: it tells how many are left; new ones are made on My
  profile, where they are shown once.
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
from tandem.core.models import ApiToken, ApiTokenScope, Organisation
from tandem.core.recovery_codes import recovery_codes_left
from tandem.core.services import organisation_update
from tandem.core.tokens import token_create, token_revoke, tokens_of
from tandem.core.two_factor import (
    secret_of,
    two_factor_confirm,
    two_factor_device,
    two_factor_disable,
    two_factor_draft,
    two_factor_required,
    two_factor_start,
)

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
    expires_at: Annotated[AwareDatetime, AfterValidator(_reasonable_expiry)] | None = Field(
        None, description="When the token stops working; default: API_TOKEN_DAYS (90) from now."
    )


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


# --- two-factor sign-in ---------------------------------------------------------------------


class TwoFactorOut(Schema):
    enabled: bool = Field(description="Signing in asks for a code from an authenticator app.")
    required: bool = Field(description="The organisation requires it of this user (admins).")
    pending: bool = Field(description="A set-up was started and awaits its confirming code.")
    recovery_codes_left: int = Field(
        description="Unused recovery codes (each signs in once instead of the app's code); "
        "the codes themselves are shown only on My profile."
    )


class TwoFactorSetup(Schema):
    secret: str = Field(description="The key in base32, for typing into the app by hand.")
    otpauth_url: str = Field(description="The otpauth:// address a QR code carries.")


class TwoFactorCode(Schema):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="The app's current code.")]


def _session_user(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if who.token is not None:
        raise ApiError(
            403,
            "session_required",
            _("Two-factor sign-in can only be changed while signed in, not with a token."),
        )
    return who


def _two_factor_state(user: Any) -> dict[str, bool | int]:
    enabled = two_factor_device(user) is not None
    return {
        "enabled": enabled,
        "required": two_factor_required(user),
        "pending": two_factor_draft(user) is not None,
        "recovery_codes_left": recovery_codes_left(user) if enabled else 0,
    }


@router.get("/me/two-factor", response={200: TwoFactorOut, **ERRORS})
def two_factor_status(request: HttpRequest) -> dict[str, bool | int]:
    """Whether your sign-in asks for an authenticator code."""
    return _two_factor_state(caller(request).user)


@router.post("/me/two-factor", response={201: TwoFactorSetup, **ERRORS, 413: Error, 415: Error})
def two_factor_setup(request: HttpRequest) -> Status[dict[str, str]]:
    """Start setting up two-factor sign-in (signed-in session only): a new key for your app.
    It protects sign-in once confirmed with `POST /me/two-factor/confirm`."""
    who = _session_user(request)
    device = two_factor_start(user=who.user)
    return Status(
        201, {"secret": secret_of(device).replace(" ", ""), "otpauth_url": device.config_url}
    )


@router.post(
    "/me/two-factor/confirm", response={200: TwoFactorOut, **ERRORS, 413: Error, 415: Error}
)
def two_factor_setup_confirm(request: HttpRequest, payload: TwoFactorCode) -> dict[str, bool | int]:
    """Confirm the set-up with the app's current code: two-factor sign-in is on. Recovery codes
    are not issued here (they never cross the API): make them on My profile."""
    who = _session_user(request)
    two_factor_confirm(actor=who.actor, user=who.user, code=payload.code)
    return _two_factor_state(who.user)


@router.post(
    "/me/two-factor/disable", response={200: TwoFactorOut, **ERRORS, 413: Error, 415: Error}
)
def two_factor_turn_off(request: HttpRequest, payload: TwoFactorCode) -> dict[str, bool | int]:
    """Turn two-factor sign-in off with the app's current code (refused when it is required)."""
    who = _session_user(request)
    two_factor_disable(actor=who.actor, user=who.user, code=payload.code)
    return _two_factor_state(who.user)


class OrganisationTwoFactor(Schema):
    model_config = ConfigDict(extra="forbid")

    require_admin_two_factor: bool = Field(
        description="Admins must set up two-factor sign-in before they can use Tandem."
    )


def _settings_manager(request: HttpRequest) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "manage_settings"):
        raise ApiError(403, "forbidden", _("You may not change the organisation's settings."))
    return who


@router.get("/organisation/two-factor", response={200: OrganisationTwoFactor, **ERRORS})
def organisation_two_factor(request: HttpRequest) -> dict[str, bool]:
    """Whether the organisation requires two-factor sign-in of its admins."""
    _settings_manager(request)
    return {"require_admin_two_factor": Organisation.current().require_admin_two_factor}


@router.put(
    "/organisation/two-factor",
    response={200: OrganisationTwoFactor, **ERRORS, 413: Error, 415: Error},
)
def organisation_two_factor_set(
    request: HttpRequest, payload: OrganisationTwoFactor
) -> dict[str, bool]:
    """Require (or stop requiring) two-factor sign-in of admins; recorded in the audit log."""
    who = _settings_manager(request)
    org = organisation_update(
        actor=who.actor, require_admin_two_factor=payload.require_admin_two_factor
    )
    return {"require_admin_two_factor": org.require_admin_two_factor}
