"""The one rate limiter: a fixed, clock-aligned window per key in Django's cache."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tandem.core.ratelimit import rate_limit_hit


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def test_the_hit_past_the_limit_is_limited_and_refused_hits_count_too() -> None:
    verdicts = [rate_limit_hit("k", limit=2, now=600.0 + i) for i in range(4)]
    assert [v.count for v in verdicts] == [1, 2, 3, 4]
    assert [v.limited for v in verdicts] == [False, False, True, True]


def test_the_next_window_starts_again_and_says_when_it_ends() -> None:
    assert rate_limit_hit("k", limit=1, now=600.0).limited is False
    late = rate_limit_hit("k", limit=1, now=659.5)
    assert late.limited is True
    assert late.retry_after == pytest.approx(0.5)
    assert rate_limit_hit("k", limit=1, now=660.0).limited is False


def test_keys_and_window_lengths_count_apart() -> None:
    assert rate_limit_hit("a", limit=1, now=600.0).count == 1
    assert rate_limit_hit("b", limit=1, now=600.0).count == 1
    assert rate_limit_hit("a", limit=1, window_seconds=3600, now=600.0).count == 1
    assert rate_limit_hit("a", limit=1, now=600.0).count == 2


def test_the_count_lives_in_the_shared_cache_not_in_the_process() -> None:
    rate_limit_hit("shared", limit=5, now=600.0)
    assert cache.get("tandem:rate:shared:60:10") == 1
    cache.incr("tandem:rate:shared:60:10")  # another process counting into the same bucket
    assert rate_limit_hit("shared", limit=5, now=601.0).count == 3
