"""The attribution API on the hand-built timeline of `test_journeys` (exact credits), its cache,
its scoping per role and its answers to bad input."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from conftest import World
from tandem.attribution.models import AttributionRun
from tandem.attribution.tests.test_journeys import T0, build_timeline
from tandem.crm import services as crm

URL = "/api/v1/attribution/credit"
PERIOD = {"start": "2026-02-01", "end": "2026-03-01"}


@pytest.fixture
def client(finished_client: Client) -> Client:
    """Runs are computed by a worker: these tests read the results once it has finished
    (tandem/attribution/tests/test_runs_in_background.py is about the waiting)."""
    return finished_client


@pytest.fixture
def timeline(world: World) -> dict[str, Any]:
    return build_timeline(world)


def get(client: Client, user: Any, url: str = URL, **params: Any) -> Any:
    client.force_login(user)
    return client.get(url, {**PERIOD, **params})


def credits(body: dict[str, Any], dim: str = "channel") -> dict[str, tuple[float, float]]:
    return {
        r["name"]: (round(r["conversions"], 9), round(r["value"], 6))
        for r in body["credits"][dim]
        if r["conversions"] or r["value"]
    }


def test_linear_by_account_exact(client: Client, world: World, timeline: dict[str, Any]) -> None:
    r = get(client, world.user("head"), model="linear", unit="account", n_boot=50)
    assert r.status_code == 200, r.content
    body = r.json()
    third = round(1 / 3, 9)
    assert credits(body) == {
        "email": (third, 333.333333),
        "paid_search": (third, 333.333333),
        "sales_call": (third, 333.333333),
    }
    assert credits(body, "department") == {"marketing": (0.5, 500.0), "sales": (0.5, 500.0)}
    assert body["totals"] == {
        "journeys": 2,
        "conversions": 1.0,
        "value": 1000.0,
        "non_converting": 1.0,
        "conversions_without_touches": 0,
    }
    assert body["top_paths"][0] == {
        "path": "paid_search > email > sales_call",
        "conversions": 1.0,
        "value": 1000.0,
        "journeys": 1.0,
    }
    # Two journeys, one converting: a replicate redraws two outcomes, and a quarter of the
    # replicates (seeded) have no conversion, so the interval runs from 0 to the point share.
    email = next(r for r in body["credits"]["channel"] if r["name"] == "email")
    assert email["share"] == pytest.approx(1 / 3)
    assert email["lower"] == 0.0
    assert email["upper"] == pytest.approx(1 / 3)


def test_markov_and_cache(client: Client, world: World, timeline: dict[str, Any]) -> None:
    head = world.user("head")
    first = get(client, head, model="markov", unit="account", n_boot=20).json()
    # A single converting path: every channel's removal effect is 1, so equal thirds.
    assert {k: round(v[0], 9) for k, v in credits(first).items()} == {
        "email": round(1 / 3, 9),
        "paid_search": round(1 / 3, 9),
        "sales_call": round(1 / 3, 9),
    }
    again = get(client, head, model="markov", unit="account", n_boot=20).json()
    assert again["id"] == first["id"]
    assert AttributionRun.objects.count() == 1
    # New data, new data version: a new run.
    crm.touchpoint_record(
        channel="email",
        kind="email_click",
        department="marketing",
        contact=timeline["cid"],
        occurred_at=T0,
    )
    third = get(client, head, model="markov", unit="account", n_boot=20).json()
    assert third["id"] != first["id"]
    assert third["data_version"] != first["data_version"]
    assert AttributionRun.objects.count() == 2


def test_scoped_per_role(client: Client, world: World, timeline: dict[str, Any]) -> None:
    rep = get(client, world.user("sales_rep"), model="first", unit="account", n_boot=0).json()
    assert rep["totals"]["journeys"] == 1  # Cid (no owner) is not the rep's
    assert credits(rep) == {"paid_search": (1.0, 1000.0)}
    south = get(client, world.user("sales_rep", "south"), model="first", n_boot=0).json()
    assert south["totals"]["journeys"] == 0
    assert south["credits"]["channel"] == []
    # Each rep's result is stored for that rep only.
    assert set(AttributionRun.objects.values_list("scope", flat=True)) == {
        f"user:{world.user('sales_rep').pk}",
        f"user:{world.user('sales_rep', 'south').pk}",
    }


def test_compare_models(client: Client, world: World, timeline: dict[str, Any]) -> None:
    r = get(
        client,
        world.user("marketer"),
        "/api/v1/attribution/compare",
        models="first,last,linear",
        unit="account",
        n_boot=0,
    )
    assert r.status_code == 200, r.content
    models = r.json()["models"]
    assert list(models) == ["first", "last", "linear"]
    shares = {m: {x["name"]: x["share"] for x in v["channel"]} for m, v in models.items()}
    assert shares["first"]["paid_search"] == 1.0
    assert shares["last"]["sales_call"] == 1.0
    assert shares["linear"]["email"] == pytest.approx(1 / 3)
    assert {x["name"]: x["share"] for x in models["last"]["department"]} == {
        "marketing": 0.0,
        "sales": 1.0,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"model": "magic"}, "model"),
        ({"start": "2026-03-01", "end": "2026-02-01"}, "end"),
        ({"unit": "household"}, "unit"),
        ({"conversion": "signup"}, "conversion"),
        ({"start": "1800-01-01"}, "start"),
        ({"end": "0001-03-04"}, "end"),  # found by schemathesis: no default start before it
        ({"channels": "a\x00b"}, "channels"),
        ({"team_id": 2**40}, "team_id"),
    ],
)
def test_bad_input_is_a_400(
    client: Client, world: World, params: dict[str, Any], field: str
) -> None:
    r = get(client, world.user("head"), **params)
    assert r.status_code == 400, r.content
    assert field in r.json()["details"]
    assert AttributionRun.objects.count() == 0


@pytest.mark.parametrize("params", [{"n_boot": 5000}, {"lookback_days": -1}, {"order": 4}])
def test_out_of_range_is_rejected(client: Client, world: World, params: dict[str, Any]) -> None:
    r = get(client, world.user("head"), **params)
    assert r.status_code in (400, 422), r.content
    assert AttributionRun.objects.count() == 0


def test_needs_authentication(client: Client, db: None) -> None:
    assert client.get(URL).status_code == 401
