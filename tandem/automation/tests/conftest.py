from __future__ import annotations

import pytest

from tandem.automation import runner


@pytest.fixture(autouse=True)
def _fresh_graph_cache() -> None:
    """Version ids start again in each test's database; in production they are never reused."""
    runner.version_graph.cache_clear()


@pytest.fixture(autouse=True)
def _no_quiet_hours(request: pytest.FixtureRequest) -> None:
    """Quiet hours (by default 21:00-08:00 in the contact's zone) would hold emails back or not
    depending on the hour the suite happens to run. Tests run without them; a test about quiet
    hours sets them and a clock of its own (test_runner's `marketer` fixture)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None and "world" not in request.fixturenames:
        return
    transactional = marker is not None and marker.kwargs.get("transaction", False)
    request.getfixturevalue("transactional_db" if transactional else "db")
    from tandem.automation.models import Policy

    Policy.objects.update_or_create(pk=1, defaults={"quiet_start": 0, "quiet_end": 0})
