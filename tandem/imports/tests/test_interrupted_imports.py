"""Interrupted imports in process: committed chunks are where a run resumes (every row once, the
report and counts whole), a silent run is detected, and the page offers Resume, Cancel and Undo.
(Runs whose real worker is killed are in test_import_with_a_killed_worker.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from conftest import World
from tandem.crm.models import Contact
from tandem.imports import services
from tandem.imports.models import ImportChunk, ImportJob, ImportStatus

ROWS = 30


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.IMPORT_CHUNK_ROWS = 10


def _job(world: World) -> ImportJob:
    lines = ["Email,First Name"] + [f"p{i}@example.com,P{i}" for i in range(ROWS)]
    lines.insert(5, "not-an-email,Bad")  # row 6 is rejected
    upload = SimpleUploadedFile("people.csv", ("\n".join(lines) + "\n").encode())
    return services.import_job_create(actor=world.user("marketer"), kind="contacts", upload=upload)


def test_a_run_started_again_skips_the_committed_chunks_and_keeps_their_report(
    world: World,
) -> None:
    job = _job(world)
    stop_after_two = iter([False, True])

    def killed_after_two_chunks(j: ImportJob) -> None:
        if next(stop_after_two, True):
            raise SystemExit("killed")  # as if the process died after two committed chunks

    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, run_number=1)
    with pytest.raises(SystemExit):
        services.import_run(actor=job.created_by, job=job, progress=killed_after_two_chunks)
    assert list(ImportChunk.objects.values_list("first_row", "last_row")) == [(2, 11), (12, 21)]
    assert Contact.objects.filter(email__startswith="p").count() == 19

    assert services.import_interrupted(job_id=job.pk, reason="WorkerLost: gone", run=1)
    assert services.import_run_claim(job_id=job.pk, run=1)  # the task, run again
    job = services.import_run(actor=job.created_by, job=job)
    assert job.status == ImportStatus.DONE
    assert (job.processed_rows, job.created_count, job.error_count) == (ROWS + 1, ROWS, 1)
    assert [row[0] for row in job.report] == [6]  # from the first run's chunk
    assert Contact.objects.filter(email__startswith="p").count() == ROWS


def test_an_older_runs_task_does_nothing_once_the_import_was_resumed(world: World) -> None:
    job = _job(world)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.INTERRUPTED, run_number=1)
    services.import_resume(actor=job.created_by, job=job)
    job.refresh_from_db()
    assert (job.status, job.run_number) == (ImportStatus.RUNNING, 2)
    assert not services.import_run_claim(job_id=job.pk, run=1)
    assert services.import_run_claim(job_id=job.pk, run=2)


def test_a_running_import_that_stopped_beating_is_interrupted(world: World) -> None:
    job = _job(world)
    now = timezone.now()
    silent = now - services.stale_after() - dt.timedelta(seconds=1)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, heartbeat_at=silent)
    assert services.imports_interrupted_detect(now=now) == [job.pk]
    job.refresh_from_db()
    assert job.status == ImportStatus.INTERRUPTED
    assert job.interrupted_reason.startswith("No sign of life from its run since ")


def test_the_page_of_an_interrupted_import_offers_resume_cancel_and_undo(world: World) -> None:
    job = _job(world)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, run_number=1)
    with pytest.raises(SystemExit):
        services.import_run(
            actor=job.created_by, job=job, progress=lambda j: (_ for _ in ()).throw(SystemExit)
        )
    services.import_interrupted(job_id=job.pk, reason="WorkerLost: worker w1 stopped beating")
    client = Client()
    client.force_login(world.user("marketer"))
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "WorkerLost: worker w1 stopped beating" in page
    for action in ("resume", "cancel", "undo"):
        assert f'action="/imports/{job.pk}/{action}/"' in page

    assert Contact.objects.filter(email__startswith="p").count() == 9  # one chunk, one bad row
    answer = client.post(f"/imports/{job.pk}/undo/")
    assert answer.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.UNDONE
    assert Contact.objects.filter(email__startswith="p").count() == 0
    assert (
        "Only an interrupted import can be resumed."
        in client.post(f"/imports/{job.pk}/resume/", follow=True).content.decode()
    )


def test_cancelling_an_interrupted_import_keeps_what_it_stored(world: World) -> None:
    job = _job(world)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.INTERRUPTED)
    services.import_cancel(actor=job.created_by, job=job)
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED
    assert not services.import_run_claim(job_id=job.pk, run=None)
