"""Two-factor recovery codes: ten one-time codes that sign a user in when their authenticator
app is lost (`core.two_factor` issues them when two-factor is turned on, and anew on request).

Invariants:
- only an HMAC-SHA256 of each code, keyed with `SECRET_KEY`, is stored (`RecoveryCode.digest`);
  the code itself is known only in the answer that issues it. A code is checked against every
  unused digest of its user with a constant-time compare, under `SECRET_KEY` and each of
  `SECRET_KEY_FALLBACKS` (rotating the key does not void the codes while the old one is a
  fallback);
- a code signs in once: it is marked used with a conditional UPDATE (`used_at` NULL -> now), so
  two requests racing with the same code cannot both succeed; used rows stay until the next
  issue, for the count;
- issuing codes replaces every earlier code of the user in the same transaction (old codes stop
  working at once); issuing and using a code are audited on the user (the count, never a code);
- the user's django-otp `StaticDevice` holds the codes and is the device a session signed in
  with a recovery code is verified by; wrong codes are throttled by it (each failure doubles
  the wait) and counted by the sign-in lockout at the code step (`account_views.login_code`);
- turning two-factor off, or an admin resetting it, deletes the device and with it the codes.
"""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice

from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.core.models import RecoveryCode, User

DEVICE_NAME = "recovery codes"
RECOVERY_CODES = 10  # issued at a time
FEW_LEFT = 2  # at or below this, My profile warns
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32, lower case: no 0/1/8/9 to mistake
_LENGTH = 10  # 50 random bits, shown as two groups of five ("k7d2m-qx4ta")
_SALT = "tandem.core.recovery_codes"
_SHAPE = re.compile(rf"^[{_ALPHABET}]{{{_LENGTH}}}$")


def recovery_code_new() -> str:
    text = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    return f"{text[:5]}-{text[5:]}"


def recovery_code_normalised(code: str) -> str:
    """The code as compared: lower case, without spaces or dashes (people type it either way)."""
    return re.sub(r"[\s\-]", "", code).lower()


def looks_like_recovery_code(code: str) -> bool:
    return bool(_SHAPE.match(recovery_code_normalised(code)))


def recovery_code_digest(code: str, *, secret: str | None = None) -> str:
    """The stored form of a code: HMAC-SHA256 keyed with SECRET_KEY (or `secret`), in hex."""
    return salted_hmac(
        _SALT,
        recovery_code_normalised(code),
        secret=secret or settings.SECRET_KEY,
        algorithm="sha256",
    ).hexdigest()


def recovery_codes_left(user: User) -> int:
    """How many of the user's recovery codes are still unused."""
    return RecoveryCode.objects.filter(device__user=user, used_at__isnull=True).count()


def recovery_device(user: User) -> StaticDevice | None:
    return StaticDevice.objects.filter(user=user, name=DEVICE_NAME).first()


@transaction.atomic
def recovery_codes_issue(*, actor: Actor, user: User) -> list[str]:
    """`RECOVERY_CODES` new codes for the user; every earlier one stops working. The returned
    codes are not stored and cannot be shown again. (Callers check that two-factor is on.)"""
    device, _created = StaticDevice.objects.select_for_update().get_or_create(
        user=user, name=DEVICE_NAME, defaults={"confirmed": True}
    )
    before = RecoveryCode.objects.filter(device=device, used_at__isnull=True).count()
    RecoveryCode.objects.filter(device=device).delete()
    codes = [recovery_code_new() for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(device=device, digest=recovery_code_digest(code)) for code in codes
    )
    record_change(
        actor=actor,
        action="update",
        instance=user,
        changes={"recovery_codes_left": [before, RECOVERY_CODES]},
    )
    return codes


def _matching(device: StaticDevice, code: str) -> RecoveryCode | None:
    """The unused row the code belongs to, compared in constant time with every unused row."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    digests = [recovery_code_digest(code, secret=key) for key in keys]
    found = None
    for row in RecoveryCode.objects.filter(device=device, used_at__isnull=True):
        for digest in digests:
            if constant_time_compare(row.digest, digest) and found is None:
                found = row
    return found


@transaction.atomic
def recovery_code_use(*, user: User, code: str) -> StaticDevice | None:
    """At sign-in: spend one of the user's codes. The device if the code is right and unused,
    else None (the device's throttle counts the failure); InvalidInput while throttled."""
    device = StaticDevice.objects.select_for_update().filter(user=user, name=DEVICE_NAME).first()
    if device is None:
        return None
    allowed, _details = device.verify_is_allowed()
    if not allowed:
        raise InvalidInput(
            {"code": [_("too many wrong codes: wait a minute and try again")]}, code="throttled"
        )
    match = _matching(device, code) if looks_like_recovery_code(code) else None
    spent = (
        match is not None
        and RecoveryCode.objects.filter(pk=match.pk, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        == 1
    )
    if not spent:
        device.throttle_increment()
        return None
    device.throttle_reset(commit=False)
    device.set_last_used_timestamp(commit=False)
    device.save()
    left = RecoveryCode.objects.filter(device=device, used_at__isnull=True).count()
    record_change(
        actor=Actor(user=user),
        action="update",
        instance=user,
        changes={"recovery_codes_left": [left + 1, left]},
    )
    return device


def recovery_codes_text(codes: list[str], *, username: str) -> str:
    """The codes as the downloadable text file holds them."""
    head = _("Tandem recovery codes for %(username)s") % {"username": username}
    note = _(
        "Each code signs you in once instead of a code from your authenticator app. "
        "Keep them somewhere safe."
    )
    return "\n".join([head, note, "", *codes, ""])
