"""Session expiry: an absolute lifetime and an idle limit on top of Django's sessions.

Invariants:
- a signed-in session ends `SESSION_COOKIE_AGE` seconds after sign-in, however busy it is
  (Django's cookie age alone slides with every write);
- it ends after `SESSION_IDLE_SECONDS` without a request;
- an ended session is flushed (Django's `logout`) before the view runs, so the view sees an
  anonymous user and sends pages to sign-in as usual; the API answers 401;
- the last-seen mark is written at most once a minute, so a busy session costs no session write
  on most requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

SIGNED_IN_AT = "tandem_signed_in_at"
SEEN_AT = "tandem_seen_at"
SEEN_PRECISION_SECONDS = 60


def session_start(request: HttpRequest) -> None:
    """Mark the moment of sign-in; called right after Django's `login`."""
    now = int(time.time())
    request.session[SIGNED_IN_AT] = now
    request.session[SEEN_AT] = now


def session_expired(request: HttpRequest, now: float) -> bool:
    session = request.session
    signed_in_at = session.get(SIGNED_IN_AT)
    seen_at = session.get(SEEN_AT)
    if not isinstance(signed_in_at, int) or not isinstance(seen_at, int):
        session_start(request)  # a session from before these marks: its clocks start now
        return False
    return (
        now - signed_in_at > settings.SESSION_COOKIE_AGE
        or now - seen_at > settings.SESSION_IDLE_SECONDS
    )


class SessionExpiryMiddleware:
    """After AuthenticationMiddleware: ends a signed-in session that is too old or idle."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            if session_expired(request, now):
                logout(request)
            else:
                seen_at = request.session.get(SEEN_AT)
                if not isinstance(seen_at, int) or now - seen_at >= SEEN_PRECISION_SECONDS:
                    request.session[SEEN_AT] = int(now)
        return self.get_response(request)
