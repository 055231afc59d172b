"""The attribution page: who may open it, what it shows, and its answer to bad input."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from conftest import IMMEDIATE_TASKS, World
from tandem.attribution.tests.test_journeys import build_timeline

URL = "/attribution/"
PERIOD = {"start": "2026-02-01", "end": "2026-03-01", "unit": "account", "n_boot": "20"}


@pytest.fixture
def client(finished_client: Client) -> Client:
    """Runs are computed by a worker: these tests read the page once it has finished
    (tandem/attribution/tests/test_runs_in_background.py is about the waiting)."""
    return finished_client


@pytest.fixture
def timeline(world: World) -> dict[str, Any]:
    return build_timeline(world)


def chart_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="attribution-data" type="application/json">(.*?)</script>', html)
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_head_sees_charts_tables_and_paths(
    client: Client, world: World, timeline: dict[str, Any]
) -> None:
    client.force_login(world.user("head"))
    r = client.get(URL, {**PERIOD, "model": "linear"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "vendor/echarts.min.js" in html
    assert "attribution/charts.js" in html
    assert "cdn" not in html.lower()
    data = chart_data(html)
    assert {x["name"]: round(x["share"], 6) for x in data["channel"]} == {
        "email": 0.333333,
        "paid_search": 0.333333,
        "sales_call": 0.333333,
        "organic_search": 0.0,  # Cid's journey did not convert
    }
    assert {x["name"]: x["share"] for x in data["department"]} == {"marketing": 0.5, "sales": 0.5}
    assert list(data["models"]) == ["first", "last", "linear", "position", "markov", "shapley"]
    assert data["models"]["first"]["paid_search"] == 1.0
    assert "paid_search &gt; email &gt; sales_call" in html  # top path, escaped
    assert "33.3%" in html
    assert 'href="/attribution/export.csv?' in html


@pytest.mark.parametrize("role", ["head", "admin", "marketer", "sales_rep", "field_rep"])
def test_every_role_opens_it_over_what_it_sees(
    client: Client, world: World, timeline: dict[str, Any], role: str
) -> None:
    client.force_login(world.user(role))
    r = client.get(URL, {**PERIOD, "model": "first"})
    assert r.status_code == 200
    data = chart_data(r.content.decode())
    shares = {x["name"]: x["share"] for x in data["channel"] if x["share"]}
    # Acme is the north sales rep's; the north field rep sees neither Acme nor Cid.
    expected = {"field_rep": {}}.get(role, {"paid_search": 1.0})
    assert shares == expected
    assert ("Computed over the records you can see." in r.content.decode()) == (
        role not in ("head", "admin")
    )
    nav = re.findall(r'<nav class="nav".*?</nav>', r.content.decode(), re.S)[0]
    assert 'href="/attribution/"' in nav


def test_bad_input_shows_form_errors(client: Client, world: World) -> None:
    client.force_login(world.user("head"))
    r = client.get(URL, {"start": "2026-03-01", "end": "2026-01-01", "model": "nope"})
    assert r.status_code == 400
    html = r.content.decode()
    assert "Select a valid choice" in html
    assert "attribution-data" not in html


def test_end_before_start_is_a_form_error(client: Client, world: World) -> None:
    client.force_login(world.user("head"))
    r = client.get(URL, {"start": "2026-03-01", "end": "2026-01-01"})
    assert r.status_code == 400
    assert "must be after the start" in r.content.decode()


def test_anonymous_is_sent_to_sign_in(client: Client, db: None) -> None:
    r = client.get(URL)
    assert r.status_code == 302
    assert "/login" in r["Location"]


def test_echarts_is_served_by_tandem(live_server: Any, settings: Any) -> None:
    import urllib.request

    settings.STATIC_URL = "/static/"
    with urllib.request.urlopen(f"{live_server.url}/static/vendor/echarts.min.js") as resp:  # noqa: S310
        body = resp.read()
    assert resp.status == 200
    assert b"echarts" in body[:2000].lower()
    assert len(body) > 500_000


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_charts_draw_in_a_real_browser(live_server: Any, settings: Any, world: World) -> None:
    """Chromium loads the page, ECharts draws the three charts, nothing leaves 127.0.0.1."""
    import os
    import shutil
    from pathlib import Path

    if not (Path("/usr/bin/chromium").exists() or shutil.which("chromium")):
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    settings.STATIC_URL = "/static/"
    settings.TASKS = IMMEDIATE_TASKS  # no worker here: the runs are computed as they are asked for
    build_timeline(world)
    head = world.user("head")
    from django.test import Client

    client = Client()
    client.force_login(head)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    requested: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 1400})
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.on("request", lambda r: requested.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        query = "start=2026-02-01&end=2026-03-01&unit=account&model=linear&n_boot=20"
        page.goto(f"{live_server.url}/attribution/?{query}")
        page.wait_for_selector("body[data-charts=ready]")
        for chart in ("chart-channel", "chart-department", "chart-models"):
            assert page.locator(f"#{chart} canvas").count() >= 1
        shots = Path(__file__).resolve().parents[3] / "var" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "attribution.png"), full_page=True)
        browser.close()
    assert errors == []
    assert all(u.startswith(live_server.url) for u in requested)
