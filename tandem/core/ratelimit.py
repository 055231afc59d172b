"""The one rate limiter: at most `limit` hits per key in a fixed window, counted in Django's cache.

    verdict = rate_limit_hit("tracking:form:<key>:<ip>", limit=10)
    if verdict.limited: ...  # answer 429, or record nothing

Invariants:
- each call counts one hit for its key, refused hits included;
- the window is fixed and aligned to the clock (`now // window`), so every process counts into
  the same bucket; with a cache shared by the processes (the file or Redis cache of
  `settings.CACHES`) the limit holds across all of them;
- the count is an atomic `add` then `incr`; a bucket that expires between the two starts again
  at one;
- the bucket outlives its window by a few seconds, never longer, so stale counts cost no memory.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

DEFAULT_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateVerdict:
    """One hit's outcome: its number in the window, the limit, and when the window ends."""

    count: int
    limit: int
    retry_after: float  # seconds until the window ends

    @property
    def limited(self) -> bool:
        return self.count > self.limit


def rate_limit_hit(
    key: str,
    *,
    limit: int,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    now: float | None = None,
) -> RateVerdict:
    """Count one hit for `key` in the current window and say whether it is over `limit`."""
    now = time.time() if now is None else now
    window = int(now // window_seconds)
    bucket = f"tandem:rate:{key}:{window_seconds}:{window}"
    cache = caches[getattr(settings, "RATE_LIMIT_CACHE", "default")]
    timeout = window_seconds + 5
    cache.add(bucket, 0, timeout=timeout)
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add and incr: the window starts again
        cache.add(bucket, 1, timeout=timeout)
        count = 1
    return RateVerdict(count=count, limit=limit, retry_after=(window + 1) * window_seconds - now)


EMAIL_WINDOW_SECONDS = 600


def email_rate_limit_hit(email: str, *, now: float | None = None) -> RateVerdict:
    """Count one message that a public page would send to `email`, whoever asks and from
    wherever (the key is the address, hashed): at most `PUBLIC_EMAIL_RATE_LIMIT` in ten
    minutes, so nobody can mail-bomb an address through Tandem."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    limit = int(getattr(settings, "PUBLIC_EMAIL_RATE_LIMIT", 3))
    return rate_limit_hit(
        f"email:{digest}", limit=limit, window_seconds=EMAIL_WINDOW_SECONDS, now=now
    )
