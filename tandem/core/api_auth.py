"""Who is calling the API: a bearer token (`Authorization: Bearer tdm_…`) or the signed-in session.

Invariants:
- a token acts as its user and only within its scope: a "read" token may only use safe methods
  (GET, HEAD, OPTIONS), anything else is a 403;
- an unknown, revoked or expired token is a 401, never a fallback to the session;
- the session works for pages calling the API; unsafe methods then need the CSRF token;
- every caller is rate limited per minute (per token, or per user for sessions) by
  `core.ratelimit`: at most `settings.API_RATE_LIMIT` requests in a fixed window;
- the rate limit is counted before the scope check, so refused requests count too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import HttpBearer
from ninja.utils import check_csrf

from tandem.core.api_errors import ApiError, retry_after_seconds
from tandem.core.audit import Actor
from tandem.core.models import ApiToken, ApiTokenScope, User
from tandem.core.ratelimit import email_rate_limit_hit, rate_limit_hit
from tandem.core.tokens import TokenRefused, token_authenticate, token_mark_used

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RATE_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class ApiCaller:
    """The authenticated caller of one request."""

    user: User
    token: ApiToken | None = None

    @property
    def actor(self) -> Actor:
        return Actor(user=self.user, token=self.token)

    @property
    def can_write(self) -> bool:
        return self.token is None or self.token.scope == ApiTokenScope.WRITE


def caller(request: HttpRequest) -> ApiCaller:
    """The caller that authentication put on the request (every endpoint is authenticated)."""
    auth = getattr(request, "auth", None)
    if not isinstance(auth, ApiCaller):  # pragma: no cover - guarded by the auth callback
        raise ApiError(401, "not_authenticated", _("Authentication is required."))
    return auth


_REFUSALS = {
    "invalid_token": lambda: _("The API token is not valid."),
    "token_revoked": lambda: _("The API token has been revoked."),
    "token_expired": lambda: _("The API token has expired."),
}


def check_rate_limit(key: str, *, limit: int | None = None, now: float | None = None) -> None:
    """Count one request for `key` in the current minute; ApiError 429 when over the limit."""
    limit = settings.API_RATE_LIMIT if limit is None else limit
    verdict = rate_limit_hit(f"api:{key}", limit=limit, window_seconds=RATE_WINDOW_SECONDS, now=now)
    if verdict.limited:
        raise ApiError(
            429,
            "rate_limited",
            _("Too many requests: at most %(limit)d a minute. Retry later.") % {"limit": limit},
            {"limit": limit, "retry_after": int(retry_after_seconds(verdict.retry_after))},
            headers={"Retry-After": retry_after_seconds(verdict.retry_after)},
        )


def check_email_rate_limit(email: str, *, now: float | None = None) -> None:
    """Count one message an endpoint would send to `email` (`email_rate_limit_hit`: per
    address, whoever asks); ApiError 429 when the address had its share for now."""
    verdict = email_rate_limit_hit(email, now=now)
    if verdict.limited:
        raise ApiError(
            429,
            "rate_limited",
            _("Too many messages to this address. Retry later."),
            {"limit": verdict.limit, "retry_after": int(retry_after_seconds(verdict.retry_after))},
            headers={"Retry-After": retry_after_seconds(verdict.retry_after)},
        )


class TokenOrSession(HttpBearer):
    """Bearer token first; without an Authorization header, the session user (CSRF-checked)."""

    # Tells ninja's docs page to send the CSRF token, so it works for a signed-in user.
    csrf = True

    def __call__(self, request: HttpRequest) -> ApiCaller | None:
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _sep, secret = header.strip().partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise ApiError(
                    401, "invalid_token", _("Use the header Authorization: Bearer tdm_…")
                )
            return self.authenticate(request, secret.strip())
        return self._session(request)

    def authenticate(self, request: HttpRequest, token: str) -> ApiCaller:
        try:
            api_token = token_authenticate(token)
        except TokenRefused as refused:
            raise ApiError(401, refused.code, _REFUSALS[refused.code]()) from None
        check_rate_limit(f"user:{api_token.user_id}")  # per user: a fresh token is no fresh limit
        if request.method not in SAFE_METHODS and api_token.scope != ApiTokenScope.WRITE:
            raise ApiError(
                403,
                "read_only_token",
                _("This token may only read. Create a token with write scope."),
            )
        token_mark_used(api_token)
        return ApiCaller(user=api_token.user, token=api_token)

    def _session(self, request: HttpRequest) -> ApiCaller | None:
        user: Any = getattr(request, "user", None)
        if not isinstance(user, User) or not user.is_active:
            return None
        check_rate_limit(f"user:{user.pk}")
        if (
            request.method not in SAFE_METHODS
            and not getattr(request, "_ninja_csrf_exempt", False)
            and check_csrf(request) is not None
        ):
            raise ApiError(
                403, "csrf_failed", _("The CSRF check failed. Send the X-CSRFToken header.")
            )
        return ApiCaller(user=user)
