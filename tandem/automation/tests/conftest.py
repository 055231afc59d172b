from __future__ import annotations

import pytest

from tandem.automation import runner


@pytest.fixture(autouse=True)
def _fresh_graph_cache() -> None:
    """Version ids start again in each test's database; in production they are never reused."""
    runner.version_graph.cache_clear()
