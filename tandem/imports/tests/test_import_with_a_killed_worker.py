"""An import whose worker is killed with SIGKILL part-way continues from its last committed chunk
when its task runs again, and stores every row exactly once; an import whose task gives up is
"interrupted" with the reason, and can be resumed (again exactly once) or undone (nothing left).

Real processes: `tandem worker` on a SQLite file importing a generated CSV in small chunks
(IMPORT_CHUNK_ROWS), killed once about 15% of the rows are committed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tandem.core.tests.real_processes import (
    copy_database,
    env_for,
    kill_hard,
    migrate,
    python,
    rows,
    wait,
    worker,
)

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_leg_only]

ROWS = 2000
CHUNK = 100


def setup_import(csv_path: str) -> int:
    """In the worker's database: an admin and an import of `csv_path` (contacts), started (its
    task queued); returns the job's id. Run in another process."""
    from django.core.files import File

    from tandem.core.audit import Actor
    from tandem.core.services import user_create
    from tandem.imports import services

    admin = user_create(actor=Actor.system(), username="ada", role="admin", password=None)
    with open(csv_path, "rb") as handle:
        job = services.import_job_create(
            actor=admin, kind="contacts", upload=File(handle, name="people.csv")
        )
    services.import_start(actor=admin, job=job, dry_run=False)
    return job.pk


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrate(tmp_path_factory.mktemp("migrated"))


def _csv(path: Path) -> Path:
    lines = ["Email,First Name,Last Name"]
    lines += [f"person{i}@example.com,Person,Number {i}" for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _job(var: Path, job_id: int) -> dict[str, object]:
    names = ("status", "processed_rows", "created_count", "interrupted_reason", "run_number")
    found = rows(var, f"SELECT {', '.join(names)} FROM imports_importjob WHERE id = ?", job_id)
    return dict(zip(names, found[0], strict=True))


def _contacts(var: Path) -> tuple[int, int]:
    """(contacts, distinct emails) in the database."""
    found = rows(var, "SELECT count(*), count(DISTINCT email) FROM crm_contact")
    return int(found[0][0]), int(found[0][1])  # type: ignore[arg-type]


def _start_and_kill_at_15_percent(env: dict[str, str], var: Path, tmp_path: Path) -> int:
    csv_path = _csv(tmp_path / "people.csv")
    job_id = int(
        python(env, f"from {__name__} import setup_import; print(setup_import({str(csv_path)!r}))")
    )
    with worker(env, tmp_path / "worker-1.log") as first:
        wait(
            "15% of the rows",
            lambda: int(_job(var, job_id)["processed_rows"]) >= ROWS * 15 // 100,  # type: ignore[call-overload]
            timeout=90,
            every=0.05,
        )
        kill_hard(first)
    done = int(_job(var, job_id)["processed_rows"])  # type: ignore[call-overload]
    assert 0 < done < ROWS, done
    assert _job(var, job_id)["status"] == "running"  # the row still says so
    return job_id


def test_an_import_whose_worker_is_killed_continues_and_stores_every_row_once(
    migrated: Path, tmp_path: Path
) -> None:
    var = copy_database(migrated, tmp_path)
    env = env_for(
        var,
        IMPORT_CHUNK_ROWS=str(CHUNK),
        TASKS_WORKER_STALE_SECONDS="3",
        TASKS_RETRY_DELAY_SECONDS="1",
    )
    job_id = _start_and_kill_at_15_percent(env, var, tmp_path)
    with worker(env, tmp_path / "worker-2.log"):
        wait("the import to finish", lambda: _job(var, job_id)["status"] == "done", timeout=120)
    job = _job(var, job_id)
    assert (job["processed_rows"], job["created_count"]) == (ROWS, ROWS)
    assert _contacts(var) == (ROWS, ROWS)  # every row once, none twice
    imported = rows(var, "SELECT count(*) FROM imports_importrow WHERE job_id = ?", job_id)
    assert imported == [(ROWS,)]


def test_an_import_whose_task_gives_up_is_interrupted_then_resumed_or_undone(
    migrated: Path, tmp_path: Path
) -> None:
    var = copy_database(migrated, tmp_path)
    env = env_for(
        var,
        IMPORT_CHUNK_ROWS=str(CHUNK),
        TASKS_WORKER_STALE_SECONDS="3",
        TASKS_RETRY_DELAY_SECONDS="1",
        TASKS_MAX_ATTEMPTS="1",
    )
    job_id = _start_and_kill_at_15_percent(env, var, tmp_path)
    time.sleep(3.2)  # TASKS_WORKER_STALE_SECONDS: the killed worker counts as dead
    with worker(env, tmp_path / "worker-2.log"):
        wait("the import to say it was interrupted",
             lambda: _job(var, job_id)["status"] == "interrupted")  # fmt: skip
    job = _job(var, job_id)
    assert str(job["interrupted_reason"]).startswith("WorkerLost: worker ")
    committed = _contacts(var)[0]
    assert 0 < committed < ROWS

    # Resume: a new run continues after the committed chunks.
    python(
        env,
        "from tandem.imports import services; from tandem.imports.models import ImportJob; "
        f"job = ImportJob.objects.get(pk={job_id}); "
        "services.import_resume(actor=job.created_by, job=job)",
    )
    with worker(env, tmp_path / "worker-3.log"):
        wait("the resumed import to finish", lambda: _job(var, job_id)["status"] == "done",
             timeout=120)  # fmt: skip
    job = _job(var, job_id)
    assert (job["processed_rows"], job["created_count"], job["run_number"]) == (ROWS, ROWS, 2)
    assert _contacts(var) == (ROWS, ROWS)

    # Undo removes every record the import created, through crm's services (audited).
    python(
        env,
        "from tandem.imports import services; from tandem.imports.models import ImportJob; "
        f"job = ImportJob.objects.get(pk={job_id}); "
        "services.import_undo(actor=job.created_by, job=job)",
        timeout=300,
    )
    assert _job(var, job_id)["status"] == "undone"
    assert _contacts(var) == (0, 0)
