"""The sequences API: create (with its flow), list, enrol into the flow, list the flow's
enrolments with their history link, stop one, replace the steps (a new version) and pause; a
teammate sees but may not change, another side sees nothing."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from conftest import World
from tandem.automation.models import Flow
from tandem.core.models import User

EMAIL = {"kind": "email", "subject": "Hi {first_name}", "body": "Text"}


def _post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def test_a_rep_creates_enrols_lists_stops_and_edits_through_the_api(
    client: Client, world: World
) -> None:
    client.force_login(world.user("sales_rep"))
    bad = _post(client, "/api/v1/sales/sequences", {"name": "X", "steps": [{"kind": "fax"}]})
    assert bad.status_code == 400
    made = _post(
        client,
        "/api/v1/sales/sequences",
        {"name": "Cold", "steps": [EMAIL, {"kind": "wait", "wait_days": 2}, {"kind": "call"}]},
    )
    assert made.status_code == 201, made.content
    sequence = made.json()
    assert (sequence["version"], len(sequence["steps"])) == (1, 3)
    assert Flow.objects.get(pk=sequence["flow_id"]).status == "active"
    url = f"/api/v1/sales/sequences/{sequence['id']}"
    north = world.contacts[("sales_rep", "north")]
    south = world.contacts[("sales_rep", "south")]
    hidden = _post(client, f"{url}/enrolments", {"contact_ids": [south.pk]})
    assert hidden.status_code == 400
    enrolled = _post(client, f"{url}/enrolments", {"contact_ids": [north.pk]})
    assert enrolled.status_code == 201, enrolled.content
    (row,) = enrolled.json()
    assert (row["contact_id"], row["status"], row["step"], row["version"]) == (
        north.pk,
        "active",
        1,
        1,
    )
    assert row["history_url"] == f"/sales/sequences/{sequence['id']}/enrolments/{row['id']}/"
    assert row["builder_url"] == f"/automation/enrolments/{row['id']}/"
    again = _post(client, f"{url}/enrolments", {"contact_ids": [north.pk]})
    assert again.json() == []
    assert [e["id"] for e in client.get(f"{url}/enrolments").json()] == [row["id"]]
    listed = client.get("/api/v1/sales/sequences").json()
    assert [(s["name"], s["active_enrolments"]) for s in listed] == [("Cold", 1)]

    client.force_login(world.user("sales_rep", "south"))
    assert client.get(url).status_code == 404
    stop = f"/api/v1/sales/sequence-enrolments/{row['id']}/stop"
    assert _post(client, stop, {}).status_code == 404

    client.force_login(world.user("sales_rep"))
    stopped = _post(client, stop, {})
    assert (stopped.json()["status"], stopped.json()["exit_reason"]) == (
        "exited",
        "stopped by a rep",
    )
    edited = client.put(
        f"{url}/steps", json.dumps({"steps": [EMAIL]}), content_type="application/json"
    )
    assert (edited.status_code, edited.json()["version"]) == (200, 2)
    paused = _post(client, f"{url}/status", {"active": False})
    assert paused.json()["active"] is False
    refused = _post(client, f"{url}/enrolments", {"contact_ids": [north.pk]})
    assert refused.status_code == 400
    assert "paused" in refused.content.decode()


def test_a_marketer_may_not_create_and_a_teammate_may_not_change(
    client: Client, world: World
) -> None:
    client.force_login(world.user("marketer"))
    assert (
        _post(client, "/api/v1/sales/sequences", {"name": "M", "steps": [EMAIL]}).status_code == 403
    )
    client.force_login(world.user("sales_rep"))
    sequence = _post(client, "/api/v1/sales/sequences", {"name": "Mine", "steps": [EMAIL]}).json()
    owner = world.user("sales_rep")
    mate = User.objects.create_user(
        username="mate_api", password="x", role="sales_rep", team=owner.team
    )
    client.force_login(mate)
    url = f"/api/v1/sales/sequences/{sequence['id']}"
    assert client.get(url).status_code == 200
    contact = world.contacts[("sales_rep", "north")]
    assert _post(client, f"{url}/enrolments", {"contact_ids": [contact.pk]}).status_code == 403
    assert _post(client, f"{url}/status", {"active": False}).status_code == 403


def test_nul_characters_are_a_400_not_a_database_error(client: Client, world: World) -> None:
    client.force_login(world.user("sales_rep"))
    step = {"kind": "email", "subject": "Hi\x00", "body": "Text"}
    answer = _post(client, "/api/v1/sales/sequences", {"name": "N\x00", "steps": [step]})
    assert answer.status_code == 400
