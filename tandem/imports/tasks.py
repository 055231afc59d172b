"""Background import runs: thin wrappers taking ids.

A run skips the rows its job has already committed (`services`: chunks), so the task run again
after its worker was lost continues where the dead run stopped. A task carries its run's number:
once the import was resumed (a newer run), cancelled or undone, an older task does nothing. When
the task gives up for good, the import is "interrupted" with the reason (registered with core
below); `imports_interrupted_detect` finds runs that stopped beating by other means.
"""

from __future__ import annotations

from typing import Any

from django_tasks import task

from tandem.core.interrupted_work import task_gave_up_register
from tandem.imports import services
from tandem.imports.models import ImportJob


@task()
def import_job_run(job_id: int, dry_run: bool, run: int | None = None) -> str:
    if not services.import_run_claim(job_id=job_id, run=run):
        return str(ImportJob.objects.filter(pk=job_id).values_list("status", flat=True).first())
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    return str(services.import_run(actor=job.created_by, job=job, dry_run=dry_run).status)


@task()
def imports_interrupted_detect() -> int:
    """Mark the running imports whose heartbeat went silent "interrupted"; how many."""
    return len(services.imports_interrupted_detect())


def _import_gave_up(args: list[Any], kwargs: dict[str, Any], reason: str) -> None:
    values = [*args, None, None, None]
    job_id = kwargs.get("job_id", values[0])
    run = kwargs.get("run", values[2])
    if isinstance(job_id, int):
        services.import_interrupted(job_id=job_id, reason=reason, run=run)


task_gave_up_register(import_job_run.module_path, _import_gave_up)
