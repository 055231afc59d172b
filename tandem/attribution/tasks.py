"""Background work of attribution: computing the runs pages and the API asked for.

Invariants: the task takes run ids only and is idempotent (a run is claimed with a conditional
UPDATE before it is computed, so a second delivery finds nothing queued and does nothing);
failures are recorded on the runs, not raised (`services.runs_compute`).
"""

from __future__ import annotations

from django_tasks import task

from tandem.attribution import services


@task()
def attribution_runs_compute(run_ids: list[int]) -> dict[str, str]:
    """Compute the queued runs among ``run_ids``; returns each run's status by id."""
    return {str(pk): status for pk, status in services.runs_compute(run_ids).items()}
