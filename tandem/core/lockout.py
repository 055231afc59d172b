"""Sign-in lockout, held by django-axes: the seams Tandem plugs into it.

Invariants:
- failures are counted per (username, client address) pair (`AXES_LOCKOUT_PARAMETERS`); the
  username is compared case-insensitively, so "Admin" and "admin" share one count;
- the client address is Tandem's one reading of it, `core.client_address`: REMOTE_ADDR, or
  with `TANDEM_TRUSTED_PROXIES=N` the Nth X-Forwarded-For entry from the right, the one the
  nearest trusted proxy wrote. Whatever a client writes into the header itself is never read,
  so a forged header can neither reset nor shift the count;
- a locked pair is refused even with the right password, for `LOGIN_LOCKOUT_MINUTES`, with a
  429 and the reason on the sign-in page; a success clears the pair's count;
- `authenticate()` without a request (Django's test client, management commands) is not
  counted: there is no client to lock.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from tandem.core.forms import LoginForm

LOCKED_STATUS = 429


def lockout_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """The username as counted: trimmed and lower-cased (AXES_USERNAME_CALLABLE)."""
    username = (credentials or {}).get("username") or ""
    if not username and request is not None:
        username = request.POST.get("username", "")
    return str(username).strip().lower()[:150]


def locked_message() -> str:
    return _(
        "Too many failed sign-ins: this account is locked for %(minutes)d minutes. "
        "Try again later or ask an admin."
    ) % {"minutes": settings.LOGIN_LOCKOUT_MINUTES}


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """What a locked-out sign-in gets (AXES_LOCKOUT_CALLABLE): the sign-in page with the reason,
    429. The sign-in view already renders exactly that; other callers get it here."""
    if original_response is not None and original_response.status_code == LOCKED_STATUS:
        return original_response
    form = LoginForm(request.POST or None)
    form.is_valid()
    form.add_error(None, locked_message())
    return render(request, "core/login.html", {"form": form}, status=LOCKED_STATUS)


class LockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check, first in AUTHENTICATION_BACKENDS; Django's ModelBackend signs in.

    Without a request there is no client to count against, so it steps aside (axes itself
    would refuse such a call outright)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username=username, password=password, **kwargs)
        return None
