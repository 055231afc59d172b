"""API tokens: create (the secret is returned once), revoke, list, and authenticate.

Invariants:
- only `hash_token(secret)` is stored; the secret itself is never written anywhere;
- a token acts as its user, never with more rights: a revoked or expired token, or one whose
  user is inactive, authenticates nobody;
- every token expires: `API_TOKEN_DAYS` after creation unless its creator picks another
  (future) moment; an expired token is refused with 401 `token_expired`;
- `last_used_at` is written at most once a minute per token, with a conditional UPDATE, so a
  busy token costs no write on most requests;
- creating and revoking a token is recorded in the audit log (without the secret or its hash).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.core.models import ApiToken, ApiTokenScope, User, hash_token

LAST_USED_PRECISION = dt.timedelta(minutes=1)
MAX_TOKENS_PER_USER = 50


@dataclass(frozen=True)
class NewToken:
    """A token just created and its secret: the only moment the secret is known."""

    token: ApiToken
    secret: str


class TokenRefused(Exception):
    """The presented secret authenticates nobody; `code` says why (for the 401 answer)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


def _audit_values(token: ApiToken) -> dict[str, object]:
    return {
        "name": token.name,
        "prefix": token.prefix,
        "scope": token.scope,
        "user": token.user_id,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


@transaction.atomic
def token_create(
    *,
    actor: Actor,
    user: User,
    name: str,
    scope: str = ApiTokenScope.READ,
    expires_at: dt.datetime | None = None,
) -> NewToken:
    """A new token for `user`. The returned secret is not stored and cannot be shown again.
    Without `expires_at` it expires `API_TOKEN_DAYS` from now."""
    if expires_at is None:
        expires_at = timezone.now() + dt.timedelta(days=settings.API_TOKEN_DAYS)
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name:
        errors["name"] = ["is required"]
    elif len(name) > 100:
        errors["name"] = ["at most 100 characters"]
    if scope not in ApiTokenScope.values:
        errors["scope"] = [f"{scope!r} is not one of {', '.join(ApiTokenScope.values)}"]
    if expires_at <= timezone.now():
        errors["expires_at"] = ["must be in the future"]
    if not user.is_active:
        errors["__all__"] = ["an inactive user cannot hold tokens"]
    if errors:
        raise InvalidInput(errors)
    # Lock the user row so two concurrent creates cannot both pass the per-user cap.
    User.objects.select_for_update().filter(pk=user.pk).first()
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_TOKENS_PER_USER:
        raise InvalidInput(
            {"__all__": [f"at most {MAX_TOKENS_PER_USER} active tokens per user"]},
            code="too_many_tokens",
        )
    secret = ApiToken.new_secret()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[:12],
        token_hash=hash_token(secret),
        scope=scope,
        expires_at=expires_at,
    )
    record_change(
        actor=actor,
        action="create",
        instance=token,
        changes={k: [None, v] for k, v in _audit_values(token).items()},
    )
    return NewToken(token=token, secret=secret)


@transaction.atomic
def token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    """Revoke a token from now on. Revoking a revoked token changes nothing (idempotent)."""
    now = timezone.now()
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    token.refresh_from_db(fields=["revoked_at"])
    if changed:
        record_change(
            actor=actor,
            action="update",
            instance=token,
            changes={"revoked_at": [None, now.isoformat()]},
        )
    return token


def tokens_of(user: User) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first (revoked ones included, marked by `revoked_at`)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_authenticate(secret: str) -> ApiToken:
    """The active token with this secret (its user loaded), else TokenRefused."""
    if not secret.startswith(ApiToken.PREFIX) or len(secret) > 100:
        raise TokenRefused("invalid_token")
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(secret)).first()
    if token is None or not token.user.is_active:
        raise TokenRefused("invalid_token")
    if token.revoked_at is not None:
        raise TokenRefused("token_revoked")
    if token.expires_at is not None and token.expires_at <= timezone.now():
        raise TokenRefused("token_expired")
    return token


def token_mark_used(token: ApiToken) -> None:
    """Record that the token was used now; writes at most once per minute per token."""
    now = timezone.now()
    threshold = now - LAST_USED_PRECISION
    if token.last_used_at is not None and token.last_used_at > threshold:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=threshold)
    ).update(last_used_at=now)
    token.last_used_at = now
