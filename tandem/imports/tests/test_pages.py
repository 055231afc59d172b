"""The import pages through Django's test client: upload, preview, dry run, run, undo, access."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conftest import World
from tandem.crm.models import Contact
from tandem.imports.models import ImportJob, ImportStatus

BODY = "\ufeffEmail,First Name,Shoe size\r\nzed@page.io,Zed,44\r\nbroken,Bo,41\r\n".encode()


@pytest.fixture(autouse=True)
def _setup(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _client(world: World, role: str, side: str = "north") -> Client:
    client = Client()
    client.force_login(world.user(role, side))
    return client


def _upload(client: Client) -> ImportJob:
    response = client.post(
        "/imports/",
        {"kind": "contacts", "file": SimpleUploadedFile("people.csv", BODY)},
    )
    assert response.status_code == 302
    return ImportJob.objects.get()


def test_upload_preview_dry_run_run_and_undo(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(world, "marketer")
    job = _upload(client)
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "<th>Shoe size</th>" in page
    assert "<td>zed@page.io</td>" in page
    assert '<option value="email" selected>' in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/start/", {"dry_run": "1"})
    job.refresh_from_db()
    assert (job.status, job.report) == (
        ImportStatus.CHECKED,
        [[3, "email", "'broken' is not a valid email address"]],
    )
    assert not Contact.objects.filter(email="zed@page.io").exists()
    progress = client.get(f"/imports/{job.pk}/progress/").content.decode()
    assert "2 of 2 rows: 1 created, 0 updated, 1 rejected." in progress
    assert "hx-trigger" not in progress
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/start/")
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert Contact.objects.filter(email="zed@page.io").count() == 1
    client.post(f"/imports/{job.pk}/undo/")
    job.refresh_from_db()
    assert job.status == ImportStatus.UNDONE
    assert not Contact.objects.filter(email="zed@page.io").exists()


def test_mapping_override_from_the_page(world: World) -> None:
    client = _client(world, "marketer")
    job = _upload(client)
    client.post(f"/imports/{job.pk}/mapping/", {"column_0": "email", "column_2": "title"})
    job.refresh_from_db()
    assert job.mapping == {"0": "email", "2": "title"}


def test_a_mapping_to_an_unknown_field_is_refused_with_the_column_named(world: World) -> None:
    client = _client(world, "marketer")
    job = _upload(client)
    before = dict(job.mapping)
    response = client.post(
        f"/imports/{job.pk}/mapping/", {"column_0": "password", "column_2": "title"}, follow=True
    )
    job.refresh_from_db()
    assert job.mapping == before
    page = response.content.decode()
    assert "Email: Select a valid choice. password is not one of the available choices." in page


def test_running_job_polls_and_offers_cancel(world: World) -> None:
    client = _client(world, "marketer")
    job = _upload(client)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING)
    progress = client.get(f"/imports/{job.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in progress
    client.post(f"/imports/{job.pk}/cancel/")
    job.refresh_from_db()
    assert job.cancel_requested is True


def test_bad_encoding_upload_is_a_form_error(world: World) -> None:
    client = _client(world, "marketer")
    response = client.post(
        "/imports/",
        {"kind": "contacts", "file": SimpleUploadedFile("x.csv", b"Em\xe9il\n")},
    )
    assert response.status_code == 400
    assert "Line 1 is not UTF-8 text (byte 3). Save the file as UTF-8." in response.content.decode()
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize("role", ["sales_rep", "field_rep"])
def test_reps_get_404_everywhere(world: World, role: str) -> None:
    job = _upload(_client(world, "marketer"))
    client = _client(world, role)
    assert client.get("/imports/").status_code == 404
    assert client.get(f"/imports/{job.pk}/").status_code == 404
    assert client.post(f"/imports/{job.pk}/start/").status_code == 404
    assert "/imports/" not in client.get("/").content.decode()


def test_other_marketers_job_is_404_head_sees_it(world: World) -> None:
    job = _upload(_client(world, "marketer"))
    assert _client(world, "marketer", "south").get(f"/imports/{job.pk}/").status_code == 404
    assert _client(world, "head", "south").get(f"/imports/{job.pk}/").status_code == 200
