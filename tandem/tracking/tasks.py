"""Background work of the tracking app (Django Tasks API; tasks take ids and are idempotent)."""

from __future__ import annotations

from django_tasks import task

from tandem.tracking.reclassify import reclassify_all, run_reclassification


@task()
def reclassify_run(run_id: int) -> str:
    """Execute reclassification run `run_id` (see `tandem.tracking.reclassify`); a run that is
    no longer queued (cancelled, superseded, taken by the CLI) is left as it is."""
    return str(run_reclassification(run_id).status)


@task()
def reclassify_touchpoints(version: int) -> int:
    """Kept for tasks queued before runs were recorded: recompute channel and department of
    stored touchpoints under rule set `version`; skipped if a newer version exists."""
    return reclassify_all(version)
