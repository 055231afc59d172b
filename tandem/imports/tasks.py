"""Background import runs: thin wrappers taking ids. A run re-reads the file from the start."""

from __future__ import annotations

from django_tasks import task

from tandem.imports import services
from tandem.imports.models import ImportJob


@task()
def import_job_run(job_id: int, dry_run: bool) -> str:
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    return str(services.import_run(actor=job.created_by, job=job, dry_run=dry_run).status)
