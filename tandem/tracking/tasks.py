"""Background work of the tracking app (Django Tasks API; tasks take ids and are idempotent)."""

from __future__ import annotations

from django_tasks import task

from tandem.tracking.reclassify import reclassify_all


@task()
def reclassify_touchpoints(version: int) -> int:
    """Recompute channel and department of stored touchpoints under rule set `version`.
    Skips the work if a newer version exists (its own task will do it)."""
    return reclassify_all(version)
