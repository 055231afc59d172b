"""The export of an import's rejected rows (`row, field, message`): the page's report, as CSV and
XLSX, only for whoever sees the job, formula text neutralised, audited."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conftest import World
from tandem.core.models import AuditEntry
from tandem.imports.models import ImportJob

BODY = (
    "\ufeffEmail,First Name\r\nzed@page.io,Zed\r\nbroken,Bo\r\n=1+1,Eve\r\nok@page.io,Ok\r\n"
).encode()


@pytest.fixture(autouse=True)
def _setup(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _client(world: World, role: str, side: str = "north") -> Client:
    client = Client()
    client.force_login(world.user(role, side))
    return client


@pytest.fixture
def job(world: World, django_capture_on_commit_callbacks: Any) -> ImportJob:
    client = _client(world, "marketer")
    client.post("/imports/", {"kind": "contacts", "file": SimpleUploadedFile("p.csv", BODY)})
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/start/", {"dry_run": "1"})
    job.refresh_from_db()
    return job


def _body(response: Any) -> bytes:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def test_rejected_rows_as_csv_and_xlsx(world: World, job: ImportJob) -> None:
    assert len(job.report) == 2
    client = _client(world, "marketer")
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert f'href="/imports/{job.pk}/report/?format=csv"' in page
    text = _body(client.get(f"/imports/{job.pk}/report/")).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert rows[0] == ["Row", "Field", "Message"]
    assert rows[1:] == [[str(r[0]), r[1], r[2]] for r in job.report]
    ws = openpyxl.load_workbook(
        io.BytesIO(_body(client.get(f"/imports/{job.pk}/report/", {"format": "xlsx"})))
    ).active
    assert ws is not None
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[1:] == [list(r) for r in job.report]
    assert isinstance(values[1][0], int)  # row numbers stay numbers
    entries = AuditEntry.objects.filter(action="export").order_by("id")
    assert [(e.model, e.object_id, e.changes["format"], e.changes["rows"]) for e in entries] == [
        ("imports.ImportJob", str(job.pk), "csv", 2),
        ("imports.ImportJob", str(job.pk), "xlsx", 2),
    ]


def test_hostile_report_text_is_neutralised(world: World, job: ImportJob) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        report=[[2, "=field", "@SUM(1)"], [3, "email", "-2+3 is not valid"]]
    )
    client = _client(world, "head")
    text = _body(client.get(f"/imports/{job.pk}/report/")).decode("utf-8-sig")
    assert text.splitlines()[1:] == ["2,'=field,'@SUM(1)", "3,email,'-2+3 is not valid"]


def test_only_who_sees_the_job_may_export_it(world: World, job: ImportJob) -> None:
    url = f"/imports/{job.pk}/report/"
    assert _client(world, "marketer", "south").get(url).status_code == 404  # not their job
    for role in ("sales_rep", "field_rep"):
        assert _client(world, role).get(url).status_code == 404
    assert _client(world, "admin", "south").get(url).status_code == 200
    assert Client().get(url).status_code == 302
    assert _client(world, "marketer").get("/imports/999999/report/").status_code == 404


def test_bad_format_is_a_400(world: World, job: ImportJob) -> None:
    response = _client(world, "marketer").get(f"/imports/{job.pk}/report/", {"format": "json"})
    assert response.status_code == 400
    assert "use csv or xlsx" in response.content.decode()
    assert not AuditEntry.objects.filter(action="export").exists()


def test_a_contacts_export_imports_back_without_rejections(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(world, "head")
    exported = _body(client.get("/crm/contacts/export/"))
    client.post("/imports/", {"kind": "contacts", "file": SimpleUploadedFile("back.csv", exported)})
    job = ImportJob.objects.get()
    mapping = set(job.mapping.values())
    assert {"first_name", "last_name", "email", "lifecycle_stage", "owner"} <= mapping
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/start/", {"dry_run": "1"})
    job.refresh_from_db()
    assert job.report == []
    assert (job.total_rows, job.error_count, job.created_count) == (4, 0, 0)
