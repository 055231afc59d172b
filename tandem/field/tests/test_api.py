"""The field API through Django's full stack with real tokens."""

from __future__ import annotations

import uuid

from conftest import World
from tandem.crm.tests.api_client import api_as
from tandem.field.models import Visit
from tandem.field.tests.conftest import Field


def test_a_visit_filed_twice_with_its_uuid_is_stored_once(field: Field) -> None:
    api = api_as(field.rep)
    key = str(uuid.uuid4())
    body = {
        "uuid": key,
        "account_id": field.account.pk,
        "planned_start": "2026-12-08T09:00:00Z",
        "planned_end": "2026-12-08T10:00:00Z",
    }
    first = api.post("/field/visits", body)
    second = api.post("/field/visits", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["uuid"] == second.json()["uuid"] == key
    assert Visit.objects.filter(uuid=key).count() == 1


def test_report_conflict_is_a_409_with_the_stored_visit(field: Field) -> None:
    api = api_as(field.rep)
    path = f"/field/visits/{field.visit.uuid}/report"
    ok = api._call("put", path, {"base_version": 1, "notes": "mine", "report": {"crops": ["rye"]}})
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    stale = api._call("put", path, {"base_version": 1, "notes": "theirs"})
    assert stale.status_code == 409
    assert stale.json()["details"]["visit"]["notes"] == "mine"


def test_check_out_makes_the_touchpoint_and_a_bad_report_is_a_400(field: Field) -> None:
    api = api_as(field.rep)
    out = api.post(f"/field/visits/{field.visit.uuid}/check-out", {"lat": 52.1, "lon": 39.6})
    assert out.status_code == 200
    assert out.json()["status"] == "done"
    bad = api._call(
        "put",
        f"/field/visits/{field.visit.uuid}/report",
        {"base_version": 2, "report": {"growth_stage": "x" * 500}},
    )
    assert bad.status_code == 400


def test_another_teams_rep_neither_sees_nor_changes_the_visit(world: World, field: Field) -> None:
    other = api_as(world.user("field_rep", "south"))
    assert other.get(f"/field/visits/{field.visit.uuid}").status_code == 404
    assert other.post(f"/field/visits/{field.visit.uuid}/check-in", {}).status_code == 404
    marketer = api_as(world.user("marketer"))
    assert marketer.get(f"/field/visits/{field.visit.uuid}").status_code == 200
    assert marketer.post(f"/field/visits/{field.visit.uuid}/check-in", {}).status_code == 403


def test_sync_answers_each_operation_and_applies_it_once(field: Field) -> None:
    api = api_as(field.rep)
    ops = [
        {"uuid": str(uuid.uuid4()), "kind": "check_in", "visit": str(field.visit.uuid)},
        {
            "uuid": str(uuid.uuid4()),
            "kind": "report",
            "visit": str(field.visit.uuid),
            "base_version": 2,
            "notes": "offline",
        },
    ]
    first = api.post("/field/sync", {"operations": ops})
    again = api.post("/field/sync", {"operations": ops})
    assert [r["status"] for r in first.json()["results"]] == ["applied", "applied"]
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert Visit.objects.get(pk=field.visit.pk).version == 3


def test_attachment_upload_refuses_a_disguised_file(field: Field) -> None:
    api = api_as(field.rep)
    from django.core.files.uploadedfile import SimpleUploadedFile

    path = f"/field/visits/{field.visit.uuid}/attachments"
    fake = SimpleUploadedFile("photo.jpg", b"MZ\x90\x00 not a photo", content_type="image/jpeg")
    assert api.client.post(f"/api/v1{path}", {"file": fake}, headers=api.headers).status_code == 400
    real = SimpleUploadedFile("photo.jpg", b"\xff\xd8\xff\xe0" + b"0" * 100)
    answer = api.client.post(f"/api/v1{path}", {"file": real}, headers=api.headers)
    assert answer.status_code == 201
    assert answer.json()["content_type"] == "image/jpeg"


def test_coverage_route_and_overview(world: World, field: Field) -> None:
    api = api_as(field.rep)
    (row,) = api.get("/field/coverage").json()
    assert (row["tier"], row["due"]) == ("A", True)
    route = api.get("/field/route").json()
    assert [s["uuid"] for s in route["ordered"]] == [str(field.visit.uuid)]
    assert route["saved_km"] == 0
    assert api.get("/field/overview").status_code == 403
    head = api_as(world.user("head"))
    assert head.get("/field/overview").json()[0]["planned"] == 1
