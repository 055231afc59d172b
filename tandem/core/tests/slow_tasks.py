"""Tasks for the tests that run real workers (imported by the worker through its dotted path)."""

from __future__ import annotations

import time
from pathlib import Path

from django_tasks import task


@task()
def sleep_once(seconds: float, marker: str) -> str:
    """The first run sleeps `seconds` (long enough to kill its worker); later runs return at once.

    Idempotent: the marker file says the long run began; a second run finds it and ends."""
    path = Path(marker)
    if path.exists():
        return "second run"
    path.write_text("started")
    time.sleep(seconds)
    return "first run"
