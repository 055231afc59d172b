"""Background work of attribution: computing the runs pages and the API asked for.

Invariants: the task takes run ids only and is idempotent (a run is claimed with a conditional
UPDATE before it is computed, so a second delivery finds nothing queued and does nothing);
failures are recorded on the runs, not raised (`services.runs_compute`). Run again after its
worker was lost, the task takes over the runs that worker left running; when it gives up for
good the runs are failed with the reason (registered below).
"""

from __future__ import annotations

from typing import Any

from django_tasks import task

from tandem.attribution import services
from tandem.core.interrupted_work import task_gave_up_register


@task()
def attribution_runs_compute(run_ids: list[int]) -> dict[str, str]:
    """Compute the queued runs among ``run_ids``; returns each run's status by id."""
    return {str(pk): status for pk, status in services.runs_compute(run_ids).items()}


def _runs_gave_up(args: list[Any], kwargs: dict[str, Any], reason: str) -> None:
    run_ids = kwargs.get("run_ids", args[0] if args else None)
    if isinstance(run_ids, list):
        services.runs_interrupted(run_ids=[i for i in run_ids if isinstance(i, int)], reason=reason)


task_gave_up_register(attribution_runs_compute.module_path, _runs_gave_up)
