"""The deals API: CRUD with cursor pages, move, win, lose, forecast; access and bad input."""

from __future__ import annotations

import json

import pytest

from tandem.core.models import AuditEntry
from tandem.sales.models import Deal

BASE = "/api/v1/sales"


def _post(client, url, body):  # type: ignore[no-untyped-def]
    return client.post(url, json.dumps(body), content_type="application/json")


def _patch(client, url, body):  # type: ignore[no-untyped-def]
    return client.patch(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def rep_client(client, world):  # type: ignore[no-untyped-def]
    client.force_login(world.user("sales_rep", "north"))
    return client


def test_create_read_update_list_with_cursor(rep_client, world, sales):
    contact = world.contacts[("sales_rep", "north")]
    created = _post(
        rep_client,
        f"{BASE}/deals",
        {
            "name": "Seeders",
            "amount": "1200.50",
            "close_date": "2025-05-01",
            "contacts": [{"contact_id": contact.pk, "role": "champion"}],
            "lines": [],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["amount"], body["currency"], body["owner_id"], body["stage_id"]) == (
        "1200.50",
        "EUR",
        world.user("sales_rep").pk,
        sales.stages["Qualify"].pk,
    )
    assert body["contacts"] == [{"contact_id": contact.pk, "role": "champion"}]
    deal_id = body["id"]
    changed = _patch(rep_client, f"{BASE}/deals/{deal_id}", {"forecast_category": "commit"})
    assert changed.json()["forecast_category"] == "commit"
    for i in range(4):
        _post(rep_client, f"{BASE}/deals", {"name": f"More {i}", "amount": "1"})
    first = rep_client.get(f"{BASE}/deals?limit=3").json()
    assert [d["name"] for d in first["items"]] == ["More 3", "More 2", "More 1"]
    second = rep_client.get(f"{BASE}/deals?limit=3&cursor={first['next_cursor']}").json()
    assert [d["name"] for d in second["items"]] == ["More 0", "Seeders"]
    assert second["next_cursor"] is None
    assert rep_client.get(f"{BASE}/deals?cursor=forged").status_code == 400


def test_move_win_lose_through_the_api(rep_client, world, sales):
    deal_id = _post(rep_client, f"{BASE}/deals", {"name": "A", "amount": "10"}).json()["id"]
    moved = _post(
        rep_client, f"{BASE}/deals/{deal_id}/move", {"stage_id": sales.stages["Negotiate"].pk}
    )
    assert moved.json()["stage_id"] == sales.stages["Negotiate"].pk
    no_reason = _post(
        rep_client, f"{BASE}/deals/{deal_id}/move", {"stage_id": sales.stages["Lost"].pk}
    )
    assert no_reason.status_code in (400, 422)
    assert "loss_reason_id" in no_reason.json()["details"]
    lost = _post(
        rep_client,
        f"{BASE}/deals/{deal_id}/lose",
        {"loss_reason_id": sales.reason.pk, "note": "budget frozen"},
    )
    assert (lost.json()["status"], lost.json()["loss_note"]) == ("lost", "budget frozen")
    closed = _post(rep_client, f"{BASE}/deals/{deal_id}/win", {})
    assert closed.status_code in (400, 422)
    other = _post(rep_client, f"{BASE}/deals", {"name": "B", "amount": "10"}).json()["id"]
    assert _post(rep_client, f"{BASE}/deals/{other}/win", {}).json()["status"] == "won"


def test_other_sides_deal_is_404_everywhere(client, world, sales):
    client.force_login(world.user("sales_rep", "south"))
    south_id = _post(client, f"{BASE}/deals", {"name": "South", "amount": "5"}).json()["id"]
    client.force_login(world.user("sales_rep", "north"))
    assert client.get(f"{BASE}/deals/{south_id}").status_code == 404
    assert _patch(client, f"{BASE}/deals/{south_id}", {"name": "Mine"}).status_code == 404
    assert _post(client, f"{BASE}/deals/{south_id}/win", {}).status_code == 404
    assert client.delete(f"{BASE}/deals/{south_id}").status_code == 404
    assert client.get(f"{BASE}/deals").json()["items"] == []
    deal = Deal.objects.get(pk=south_id)
    assert (deal.name, deal.status) == ("South", "open")


def test_marketer_reads_but_cannot_write(client, world, sales):
    client.force_login(world.user("sales_rep", "north"))
    deal_id = _post(client, f"{BASE}/deals", {"name": "N", "amount": "5"}).json()["id"]
    client.force_login(world.user("marketer", "south"))
    assert client.get(f"{BASE}/deals/{deal_id}").status_code == 200
    assert _patch(client, f"{BASE}/deals/{deal_id}", {"name": "X"}).status_code == 403
    assert _post(client, f"{BASE}/deals", {"name": "M", "amount": "1"}).status_code == 403
    assert Deal.objects.get(pk=deal_id).name == "N"


def test_only_head_and_admin_delete(client, world, sales):
    client.force_login(world.user("sales_rep", "north"))
    deal_id = _post(client, f"{BASE}/deals", {"name": "N", "amount": "5"}).json()["id"]
    assert client.delete(f"{BASE}/deals/{deal_id}").status_code == 403
    client.force_login(world.user("head", "south"))
    assert client.delete(f"{BASE}/deals/{deal_id}").status_code == 204
    assert not Deal.objects.filter(pk=deal_id).exists()
    assert AuditEntry.objects.filter(model="sales.Deal", action="delete").count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x", "amount": "-1"},
        {"name": "x", "amount": "abc"},
        {"name": "x", "amount": "1.234"},
        {"name": "x", "currency": "euro"},
        {"name": "x", "close_date": "31/12/2025"},
        {"name": "x", "contacts": [{"contact_id": 0}]},
        {"name": "x", "contacts": [{"contact_id": 1, "role": "boss"}]},
        {"name": "x", "unknown": 1},
        {"name": "x", "lines": [{"product_id": 999999}]},
        {"name": "x\u0000"},
    ],
)
def test_bad_input_is_a_4xx_and_stores_nothing(rep_client, sales, body):
    response = _post(rep_client, f"{BASE}/deals", body)
    assert 400 <= response.status_code < 500, response.content
    assert "code" in response.json()
    assert Deal.objects.count() == 0


def test_forecast_endpoint(rep_client, world, sales):
    _post(rep_client, f"{BASE}/deals", {"name": "Q", "amount": "1000", "close_date": "2025-02-10"})
    data = rep_client.get(f"{BASE}/forecast?period=quarter&date=2025-01-15").json()
    assert (data["period"], data["start"], data["end"]) == ("Q1 FY2025", "2025-01-01", "2025-04-01")
    assert data["totals"]["weighted"] == "100.00"
    assert data["rows"][0]["name"] == "sales_rep_north"
    assert rep_client.get(f"{BASE}/forecast?period=week").status_code == 400


def test_unauthenticated_is_401(client, sales):
    assert client.get(f"{BASE}/deals").status_code == 401
    assert client.get(f"{BASE}/pipelines").status_code == 401
