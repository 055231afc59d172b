"""Two-factor sign-in with an authenticator app (TOTP, RFC 6238), held by django-otp.

Invariants:
- a user has at most one TOTP device; it protects sign-in only once confirmed with a code from
  the app (`two_factor_confirm`); an unconfirmed one is a draft, replaced by the next start;
- a user with a confirmed device is signed in only after the password *and* a current code
  (the sign-in view keeps the half-done sign-in in the session, never a signed-in user);
- wrong codes are throttled by django-otp (each failure doubles the wait);
- when the organisation requires it, an admin without a confirmed device can reach only My
  profile (to set one up), sign-out and the language switch; their session API calls get a 403;
  API tokens are not affected (a token is its own credential);
- turning two-factor on or off is audited on the user, in the same transaction; an admin who
  must use it cannot turn it off;
- turning it on from My profile issues ten recovery codes (`core.recovery_codes`) in the same
  transaction; at the code step of sign-in a recovery code is taken instead of the app's code,
  once; new codes (replacing the old) need the password or a current code;
- an admin (manage_users) may reset another user's two-factor: the authenticator and the
  recovery codes go, audited; nobody resets their own this way (they turn it off with a code).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

import segno
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.core.models import Organisation, Role, User
from tandem.core.ratelimit import rate_limit_hit
from tandem.core.recovery_codes import (
    looks_like_recovery_code,
    recovery_code_use,
    recovery_codes_issue,
)

DEVICE_NAME = "authenticator"


def two_factor_device(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def two_factor_draft(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


def two_factor_required(user: User, organisation: Organisation | None = None) -> bool:
    """Whether the organisation makes this user use two-factor (admins, when it says so)."""
    if not (user.role == Role.ADMIN or user.is_superuser):
        return False
    organisation = organisation or Organisation.current()
    return organisation.require_admin_two_factor


def secret_of(device: TOTPDevice) -> str:
    """The device's key as authenticator apps take it by hand: base32, in groups of four."""
    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// address as an SVG QR code (markup without style attributes)."""
    return str(
        segno.make(device.config_url, error="m").svg_inline(
            scale=4, border=2, light="#fff", omitsize=False
        )
    )


@transaction.atomic
def two_factor_start(*, user: User) -> TOTPDevice:
    """A fresh unconfirmed device (a new secret) for the user to scan; an earlier draft goes."""
    if two_factor_device(user) is not None:
        raise InvalidInput(
            {"__all__": [_("two-factor sign-in is already on")]}, code="already_enabled"
        )
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def _code_accepted(device: TOTPDevice, code: str) -> bool:
    allowed, _details = device.verify_is_allowed()
    if not allowed:
        raise InvalidInput(
            {"code": [_("too many wrong codes: wait a minute and try again")]}, code="throttled"
        )
    return bool(device.verify_token(code.strip().replace(" ", "")))


def _proven(device: TOTPDevice, code: str) -> None:
    """Check the code outside any transaction of ours, so that django-otp's count of wrong
    codes (which doubles the wait before the next try) is kept when the change is refused."""
    if not _code_accepted(device, code):
        raise InvalidInput({"code": [_("the code is not right")]}, code="wrong_code")


def two_factor_confirm(*, actor: Actor, user: User, code: str) -> TOTPDevice:
    """Confirm the draft device with a current code from the app: two-factor is on."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        raise InvalidInput({"__all__": [_("start the set-up first")]}, code="not_started")
    _proven(device, code)
    return _confirmed(actor=actor, user=user, device=device)


@transaction.atomic
def _confirmed(*, actor: Actor, user: User, device: TOTPDevice) -> TOTPDevice:
    if not TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(confirmed=True):
        raise InvalidInput({"__all__": [_("start the set-up first")]}, code="not_started")
    device.confirmed = True
    record_change(
        actor=actor, action="update", instance=user, changes={"two_factor": [False, True]}
    )
    return device


def two_factor_disable(*, actor: Actor, user: User, code: str) -> None:
    """Turn two-factor off, proven with a current code; refused when it is required."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        raise InvalidInput({"__all__": [_("two-factor sign-in is not on")]}, code="not_enabled")
    if two_factor_required(user):
        raise InvalidInput(
            {"__all__": [_("your organisation requires two-factor sign-in for admins")]},
            code="required",
        )
    _proven(device, code)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()  # the recovery codes go with it
        record_change(
            actor=actor, action="update", instance=user, changes={"two_factor": [True, False]}
        )


@dataclass(frozen=True)
class TwoFactorOn:
    """Two-factor just turned on, and its recovery codes: the only moment they are known."""

    device: TOTPDevice
    recovery_codes: list[str]


def two_factor_turn_on(*, actor: Actor, user: User, code: str) -> TwoFactorOn:
    """Confirm the draft device (`two_factor_confirm`) and issue the recovery codes with it,
    in one transaction once the code is proven."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        raise InvalidInput({"__all__": [_("start the set-up first")]}, code="not_started")
    _proven(device, code)
    with transaction.atomic():
        device = _confirmed(actor=actor, user=user, device=device)
        codes = recovery_codes_issue(actor=actor, user=user)
    return TwoFactorOn(device=device, recovery_codes=codes)


REGENERATE_ATTEMPTS = 10  # per user per REGENERATE_WINDOW_SECONDS, right or wrong
REGENERATE_WINDOW_SECONDS = 600


def recovery_codes_regenerate(
    *, actor: Actor, user: User, password: str = "", code: str = ""
) -> list[str]:
    """New recovery codes (the old stop working), proven with the password or a current code.
    The proof is checked outside the issuing transaction, so a wrong code's throttle count
    stays counted."""
    device = two_factor_device(user)
    if device is None:
        raise InvalidInput({"__all__": [_("two-factor sign-in is not on")]}, code="not_enabled")
    if not (password or code.strip()):
        raise InvalidInput(
            {"__all__": [_("type your password or a code from your authenticator app")]},
            code="proof_required",
        )
    verdict = rate_limit_hit(
        f"core:recovery-codes:{user.pk}",
        limit=REGENERATE_ATTEMPTS,
        window_seconds=REGENERATE_WINDOW_SECONDS,
    )
    if verdict.limited:
        raise InvalidInput(
            {"__all__": [_("too many attempts: wait a few minutes and try again")]},
            code="throttled",
        )
    if password:
        if not user.check_password(password):
            raise InvalidInput({"password": [_("the password is not right")]}, code="wrong_code")
    elif not _code_accepted(device, code):
        raise InvalidInput({"code": [_("the code is not right")]}, code="wrong_code")
    return recovery_codes_issue(actor=actor, user=user)


def two_factor_verify(*, user: User, code: str) -> Device | None:
    """At sign-in: the device that accepts the code (the app's, or the recovery codes', each
    code once), else None (throttled: InvalidInput)."""
    device = two_factor_device(user)
    if device is None:
        return None
    if looks_like_recovery_code(code):
        return recovery_code_use(user=user, code=code)
    return device if _code_accepted(device, code) else None


@transaction.atomic
def two_factor_reset(*, actor: Actor, user_id: int) -> User:
    """An admin turns another user's two-factor off: their authenticator and recovery codes go
    (they set it up again; if the organisation requires it of them, at their next sign-in)."""
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise InvalidInput({"__all__": [_("no such user")]}, code="not_found")
    if actor.user is not None and actor.user.pk == user.pk:
        raise InvalidInput(
            {"__all__": [_("turn your own two-factor sign-in off on My profile")]},
            code="own_account",
        )
    had = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    if had:
        record_change(
            actor=actor,
            action="update",
            instance=user,
            changes={"two_factor": [True, False], "two_factor_reset_by_admin": [False, True]},
        )
    return user


class TwoFactorRequiredMiddleware:
    """After OTPMiddleware: holds an admin who must use two-factor but has not set it up to the
    pages that let them do so. Costs nothing for other roles (no query)."""

    ALLOWED = ("core:profile", "core:two_factor_start", "core:two_factor_confirm", "core:logout")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            isinstance(user, User)
            and user.is_authenticated
            and (user.role == Role.ADMIN or user.is_superuser)
            and not user.is_verified()  # type: ignore[attr-defined]
            and two_factor_required(user)
            and two_factor_device(user) is None
        ):
            path = request.path_info
            allowed = {reverse(name) for name in self.ALLOWED} | {reverse("core:language")}
            if path.startswith("/static/") or path in allowed:
                return self.get_response(request)
            message = _(
                "Your organisation requires two-factor sign-in for admins: set it up on My "
                "profile first."
            )
            if path.startswith("/api/") and "HTTP_AUTHORIZATION" not in request.META:
                return JsonResponse(
                    {"code": "two_factor_required", "message": message, "details": {}},
                    status=403,
                )
            if path.startswith("/api/"):
                return self.get_response(request)
            messages.warning(request, message)
            return redirect("core:profile")
        return self.get_response(request)
