"""Large exports are written by a worker: the export link or endpoint answers at once with the
job, its page shows the rows written and then the download link (for the requester only), the
file speaks the requester's language and time zone, an identical export under way is reused,
expired files are deleted, and a failed export says why. Small exports stay immediate."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conftest import World
from tandem.core import export_jobs
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry, ExportJob, User
from tandem.core.tasks import exports_expire


@pytest.fixture
def big(settings: Any, tmp_path: Path) -> Path:
    """Lists of more than 3 rows count as large; files go to a folder of the test's own."""
    settings.EXPORT_BACKGROUND_ROWS = 3
    settings.EXPORT_DIR = tmp_path / "exports"
    return Path(settings.EXPORT_DIR)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows_of(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body, newline="")))


@pytest.mark.django_db(transaction=True)
def test_a_large_export_answers_at_once_and_only_its_owner_downloads_the_file(
    world: World, big: Path
) -> None:
    head = signed_in(world.user("head"))
    asked = head.get("/crm/contacts/export/", {"format": "csv", "sort": "name"})
    assert asked.status_code == 303
    job = ExportJob.objects.get()
    assert asked["Location"] == f"/exports/{job.pk}/"
    assert (job.status, job.kind, job.format, job.rows_total) == (
        "queued",
        "crm.contacts",
        "csv",
        4,
    )
    page = head.get(asked["Location"]).content.decode()
    assert 'data-status="queued"' in page
    assert 'hx-trigger="every 2s"' in page
    assert "0 of 4 rows written" in page
    assert head.get("/crm/contacts/export/", {"sort": "name"})["Location"] == asked["Location"]
    assert DBTaskResult.objects.count() == 1  # the same export under way: one job, one task
    api = head.get("/api/v1/contacts/export")
    assert api.status_code == 202
    state = api.json()
    assert (state["status"], state["list"], state["download_url"]) == (
        "queued",
        "crm.contacts",
        None,
    )
    assert state["url"] == f"/api/v1/exports/{state['id']}"

    call_command("worker", "--burst", "--interval", "0", verbosity=0)

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.error) == ("done", 4, "")
    assert job.expires_at is not None
    assert job.expires_at > timezone.now() + dt.timedelta(hours=23)
    page = head.get(f"/exports/{job.pk}/").content.decode()
    assert f'href="/exports/{job.pk}/download/"' in page
    assert "hx-trigger" not in page
    rows = rows_of(head.get(f"/exports/{job.pk}/download/"))
    assert [r["Last Name"] for r in rows] == sorted(r["Last Name"] for r in rows)
    assert len(rows) == 4
    entry = AuditEntry.objects.get(action="export", changes__filters__sort="name")
    assert (entry.changes["rows"], entry.actor_id) == (4, world.user("head").pk)
    state = head.get(f"/api/v1/exports/{state['id']}").json()
    assert state["status"] == "done"
    assert len(rows_of(head.get(state["download_url"]))) == 4

    for other in (world.user("head", "south"), world.user("admin")):
        stranger = signed_in(other)
        assert stranger.get(f"/exports/{job.pk}/").status_code == 404
        assert stranger.get(f"/exports/{job.pk}/download/").status_code == 404
        assert stranger.get(f"/api/v1/exports/{job.pk}").status_code == 404
        assert stranger.get(f"/api/v1/exports/{job.pk}/download").status_code == 404


def test_a_small_export_is_sent_at_once(world: World, big: Path, settings: Any) -> None:
    settings.EXPORT_BACKGROUND_ROWS = 100
    head = signed_in(world.user("head"))
    response = head.get("/crm/contacts/export/")
    assert isinstance(response, StreamingHttpResponse)
    assert len(rows_of(response)) == 4
    assert not ExportJob.objects.exists()


def test_polling_shows_the_rows_written(world: World, big: Path) -> None:
    marketer = signed_in(world.user("marketer"))
    job = ExportJob.objects.get(pk=marketer.get("/api/v1/accounts/export").json()["id"])
    ExportJob.objects.filter(pk=job.pk).update(status="running", rows_done=2)
    fragment = marketer.get(f"/exports/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.startswith('<div class="export-job"')
    assert "2 of 4 rows written" in fragment
    assert 'value="50"' in fragment
    state = marketer.get(f"/api/v1/exports/{job.pk}").json()
    assert (state["status"], state["progress"], state["rows_done"]) == ("running", 50, 2)


def test_the_worker_writes_in_the_requesters_language_and_time_zone(
    world: World, big: Path
) -> None:
    user = world.user("head")
    user.language, user.time_zone = "ru", "Asia/Vladivostok"
    user.save(update_fields=["language", "time_zone"])
    head = signed_in(user)
    head.get("/crm/contacts/export/", HTTP_ACCEPT_LANGUAGE="ru")
    job = ExportJob.objects.get()
    assert (job.language, job.time_zone) == ("ru", "Asia/Vladivostok")
    with timezone.override("UTC"):  # the worker's own zone does not matter
        assert export_jobs.export_job_run(job.pk) == "done"
    rows = rows_of(head.get(f"/exports/{job.pk}/download/"))
    assert list(rows[0])[:3] == ["ID записи", "Имя", "Фамилия"]
    contact = world.contacts[("sales_rep", "north")]
    mine = next(r for r in rows if int(r["ID записи"]) == contact.pk)
    local = contact.created_at.astimezone(zoneinfo.ZoneInfo("Asia/Vladivostok"))
    assert mine["Дата создания"] == f"{local:%Y-%m-%d %H:%M:%S}"
    page = head.get(f"/exports/{job.pk}/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Скачать" in page


def test_the_same_export_under_way_is_reused_and_runs_once(world: World, big: Path) -> None:
    head = world.user("head")
    filters = {"q": "", "sort": "name"}
    first, new = export_jobs.export_start(
        user=head, kind="crm.contacts", filters=filters, fmt="csv"
    )
    again, second_new = export_jobs.export_start(
        user=head, kind="crm.contacts", filters=filters, fmt="csv"
    )
    assert (again.pk, new, second_new) == (first.pk, True, False)
    other, _new = export_jobs.export_start(
        user=head, kind="crm.contacts", filters=filters, fmt="xlsx"
    )
    assert other.pk != first.pk
    assert export_jobs.export_job_run(first.pk) == "done"
    assert export_jobs.export_job_run(first.pk) == "done"  # a second delivery writes nothing
    assert len(list(big.iterdir())) == 1
    assert AuditEntry.objects.filter(action="export").count() == 1
    third, new = export_jobs.export_start(
        user=head, kind="crm.contacts", filters=filters, fmt="csv"
    )
    assert new
    assert third.pk != first.pk


def test_expired_files_are_deleted_and_the_page_says_so(world: World, big: Path) -> None:
    head = signed_in(world.user("head"))
    head.get("/crm/contacts/export/")
    job = ExportJob.objects.get()
    export_jobs.export_job_run(job.pk)
    job.refresh_from_db()
    path = big / job.file_name
    assert path.is_file()
    assert exports_expire.call() == 0  # not yet
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert exports_expire.call() == 1
    assert not path.exists()
    job.refresh_from_db()
    assert (job.status, job.file_name) == ("expired", "")
    assert head.get(f"/exports/{job.pk}/download/").status_code == 404
    assert "The file was deleted after its time" in head.get(f"/exports/{job.pk}/").content.decode()
    assert exports_expire.call() == 0  # idempotent


def _broken(user: User, filters: Any) -> export_jobs.ExportSource:
    raise InvalidInput({"q": ["The search index is being rebuilt; try again in an hour."]})


def test_a_failed_export_shows_its_error(world: World, big: Path) -> None:
    export_jobs.export_kind_register("test.broken", _broken)
    user = world.user("marketer")
    job, _new = export_jobs.export_start(user=user, kind="test.broken", filters={}, fmt="xlsx")
    assert export_jobs.export_job_run(job.pk) == "failed"
    client = signed_in(user)
    page = client.get(f"/exports/{job.pk}/").content.decode()
    assert 'data-status="failed"' in page
    assert "The search index is being rebuilt" in page
    state = client.get(f"/api/v1/exports/{job.pk}").json()
    assert (state["status"], state["download_url"]) == ("failed", None)
    assert "being rebuilt" in state["error"]
    assert client.get(f"/exports/{job.pk}/download/").status_code == 404
    assert not big.exists() or list(big.iterdir()) == []  # no file, not even a partial one


def test_an_unknown_list_or_format_is_refused(world: World, big: Path) -> None:
    head = world.user("head")
    with pytest.raises(InvalidInput):
        export_jobs.export_start(user=head, kind="nope", filters={}, fmt="csv")
    with pytest.raises(InvalidInput):
        export_jobs.export_start(user=head, kind="crm.contacts", filters={}, fmt="pdf")
    assert signed_in(head).get("/crm/contacts/export/", {"format": "pdf"}).status_code == 400
