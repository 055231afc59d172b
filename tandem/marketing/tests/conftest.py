"""Fixtures shared by marketing's tests.

Migration 0007 seeds the default subscription types (newsletter, product_news, events). Tests
written before it create types with those keys themselves, so every marketing test starts
without the seeded rows (deleted inside the test's transaction, which rolls back); a test that
wants the defaults asks for `default_subscription_types`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tandem.marketing.models import SubscriptionType
from tandem.marketing.subscriptions.defaults import DEFAULTS, ensure_defaults


@pytest.fixture(autouse=True)
def _without_seeded_subscription_types(request: pytest.FixtureRequest) -> None:
    if "default_subscription_types" in request.fixturenames:
        return
    if request.node.get_closest_marker("django_db") is None and not any(
        name in request.fixturenames for name in ("db", "transactional_db", "world")
    ):
        return
    request.getfixturevalue("db")
    SubscriptionType.objects.filter(key__in=[row["key"] for row in DEFAULTS]).delete()


@pytest.fixture
def default_subscription_types(db: Any) -> list[SubscriptionType]:
    ensure_defaults(SubscriptionType)  # also after a transactional test flushed the tables
    return list(SubscriptionType.objects.filter(key__in=[row["key"] for row in DEFAULTS]))
