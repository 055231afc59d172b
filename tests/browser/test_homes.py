"""Every role's home page in a real browser, on the small demo: sign in as each role, open the
home page and check that its charts (ECharts) hold the numbers the API gives the same session
(`GET /api/v1/insights/home`; the head's home is the cockpit: `GET /api/v1/insights/summary`).
Also takes the cockpit's screenshot shown in the README (docs/img/cockpit.png)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.demo.services import demo_load
from tandem.insights import services as insights
from tandem.insights.periods import quarter_window, today_in, zone_of

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

README_SHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "cockpit.png"
# set TANDEM_README_SCREENSHOT=1 to write the README's screenshot (else it goes to var/)
WRITE_README_SHOT = os.environ.get("TANDEM_README_SCREENSHOT") == "1"


def _option(page: Any, chart_id: str) -> dict[str, Any]:
    """The option the ECharts instance on `#chart_id` renders (its data as drawn)."""
    option: dict[str, Any] = page.evaluate(
        """(id) => {
            const el = document.getElementById(id);
            const chart = el && window.echarts.getInstanceByDom(el);
            if (!chart) { return null; }
            const o = chart.getOption();
            return {categories: (o.yAxis[0] || {}).data || (o.xAxis[0] || {}).data,
                    series: o.series.map(s => ({name: s.name, data: s.data}))};
        }""",
        chart_id,
    )
    assert option is not None, f"no chart drawn in #{chart_id}"
    return option


def _api(page: Any, path: str) -> dict[str, Any]:
    """GET an API path with the page's own session (cookie), as the page's script would."""
    data: dict[str, Any] = page.evaluate(
        """async (path) => {
            const r = await fetch(path, {credentials: "same-origin",
                                         headers: {Accept: "application/json"}});
            return {status: r.status, body: await r.json()};
        }""",
        path,
    )
    assert data["status"] == 200, data
    body: dict[str, Any] = data["body"]
    return body


def _sign_in(browser: Any, base: str, username: str, password: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")
    page.wait_for_selector("body[data-charts=ready]", state="attached")
    return context, page


def _check_goals(page: Any, data: dict[str, Any]) -> None:
    assert data["goals"], "the demo sets goals for this quarter"
    drawn = _option(page, "chart-goals")["series"][0]["data"]
    assert [(d["goal"], d["actual"], d["target"]) for d in drawn] == [
        (g["id"], float(g["actual"]), float(g["target"])) for g in data["goals"]
    ]
    for d, g in zip(drawn, data["goals"], strict=True):
        share = float(Decimal(g["actual"]) / Decimal(g["target"])) if Decimal(g["target"]) else None
        assert d["value"] == pytest.approx(share)


def _check_home(page: Any, role: str) -> dict[str, Any]:
    data = _api(page, "/api/v1/insights/home")
    assert data["role"] == role
    _check_goals(page, data)
    if role == "marketer":
        reasons = data["rejection_reasons"]
        if reasons:
            drawn = _option(page, "chart-reasons")["series"][0]["data"]
            assert {d["reason"]: d["value"] for d in drawn} == reasons
        assert page.locator("[data-number=mqls_delivered] .stat-value").inner_text() == str(
            data["mqls_delivered"]
        )
    if role in ("sales_rep", "field_rep"):
        stages = data["deals_by_stage"]
        assert stages or role == "field_rep", "a demo sales rep has open deals"
        if stages:
            drawn = _option(page, "chart-stages")["series"][0]["data"]
            assert [(d["stage"], d["value"]) for d in drawn] == [
                (s["stage_id"], s["deals"]) for s in stages
            ]
        assert data["quota"] is not None  # set by the test below for each rep
    if role == "admin":
        drawn = _option(page, "chart-roles")["series"][0]["data"]
        assert {d["role"]: d["value"] for d in drawn} == data["users_by_role"]
    return data


def _check_cockpit(page: Any, head: User) -> None:
    zone = zone_of(head)
    quarter = quarter_window(today_in(zone), zone)
    data = _api(
        page, f"/api/v1/insights/summary?from={quarter.first}&to={quarter.last}&model=linear"
    )
    funnel = _option(page, "chart-funnel")["series"]
    assert funnel[0]["data"] == [s["entered"] for s in data["funnel"]]
    assert funnel[1]["data"] == [s["converted_to_next"] for s in data["funnel"]]
    assert sum(funnel[0]["data"]) > 0, "the demo's funnel is not empty"
    credit = _option(page, "chart-credit")
    assert credit["categories"] == list(data["credit_split"])
    assert credit["series"][0]["data"] == pytest.approx(
        [c["share"] for c in data["credit_split"].values()]
    )
    assert credit["series"][0]["data"], "the demo's credit split is not empty"


def test_each_role_home_draws_the_numbers_the_api_gives(browser: Any, live_server: Any) -> None:
    summary = demo_load(size="small")
    logins = {login.role: login for login in summary.logins}
    head = User.objects.get(username=logins["head"].username)
    zone = zone_of(head)
    for role in ("sales_rep", "field_rep"):  # a quota for one rep of each kind
        rep = User.objects.get(username=logins[role].username)
        insights.goal_set(
            actor=Actor(user=head),
            kind="revenue",
            period="quarter",
            day=today_in(zone),
            team_id=None,
            user_id=rep.pk,
            target="50000",
        )
    base = live_server.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for role in ("head", "marketer", "sales_rep", "field_rep", "admin"):
        login = logins[role]
        context, page = _sign_in(browser, base, login.username, login.password)
        try:
            if role == "head":
                # the first visit queues the credit split; a worker computes it (as `tandem
                # serve` runs one), then the cockpit draws it
                call_command("worker", "--burst", "--interval", "0.05", verbosity=0)
                page.reload()
                _check_cockpit(page, head)
                shot = README_SHOT if WRITE_README_SHOT else SCREENSHOTS / "cockpit.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                # the charts in view: the funnel's card at the top of the window
                page.locator("#chart-funnel").evaluate(
                    "el => window.scrollTo(0, el.closest('section').offsetTop - 16)"
                )
                page.screenshot(path=str(shot))
            else:
                _check_home(page, role)
                page.screenshot(path=str(SCREENSHOTS / f"home_{role}.png"), full_page=True)
        finally:
            context.close()
