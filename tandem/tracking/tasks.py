"""Background work of the tracking app (Django Tasks API; tasks take ids and are idempotent).

`reclassify_run` run again after its worker was lost takes its run over and continues after the
last chunk; when it gives up for good the run is failed with the reason (registered below)."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from tandem.core.interrupted_work import task_gave_up_register
from tandem.tracking.reclassify import reclassify_all, run_interrupted, run_reclassification


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


def _reclassify_gave_up(args: list[Any], kwargs: dict[str, Any], reason: str) -> None:
    run_id = kwargs.get("run_id", args[0] if args else None)
    if isinstance(run_id, int):
        run_interrupted(run_id=run_id, reason=reason)


task_gave_up_register(reclassify_run.module_path, _reclassify_gave_up)
