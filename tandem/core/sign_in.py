"""The end of a sign-in, and the half-done sign-in between the password and the two-factor code.

Invariants:
- `sign_in_complete` is the one place a session becomes signed in (Django's `login`): it sets
  the session's language and starts its expiry clocks (`core.sessions`), and with a device it
  marks the session verified (django-otp's `login`);
- a half-done sign-in is only a user id, the backend and where to go, in the session, for
  `PENDING_SECONDS`; it grants nothing until the code step completes it.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import login
from django_otp import login as otp_login
from django_otp.models import Device

from tandem.core.middleware import SESSION_KEY
from tandem.core.models import Organisation, User
from tandem.core.sessions import session_start

PENDING_KEY = "tandem_sign_in_pending"
PENDING_SECONDS = 300


def sign_in_complete(request: Any, user: User, device: Device | None = None) -> None:
    login(request, user, backend=getattr(user, "backend", None))
    if device is not None:
        otp_login(request, device)
    request.session[SESSION_KEY] = user.language or Organisation.current().language
    session_start(request)


def sign_in_pending_set(request: Any, *, user: User, next_url: str) -> None:
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", ""),
        "next": next_url,
        "at": int(time.time()),
    }


def sign_in_pending(request: Any) -> tuple[User, str] | None:
    """The user waiting for the code step and where they go next, or None (none, or stale)."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    user.backend = pending.get("backend") or "django.contrib.auth.backends.ModelBackend"
    return user, str(pending.get("next") or "/")


def sign_in_pending_clear(request: Any) -> None:
    request.session.pop(PENDING_KEY, None)
