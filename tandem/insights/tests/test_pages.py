"""The home pages: the head lands on the cockpit, every other role on its own home page; the
cockpit's period picker, team filter, links to the records, and both languages."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tandem.core.audit import Actor
from tandem.insights import services
from tandem.insights.tests.conftest import Company


def test_the_head_lands_on_the_cockpit(company: Company) -> None:
    page = company.client("head").get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Cockpit</h1>" in html
    assert 'data-number="revenue_won"' in html
    assert 'href="/sales/deals/?status=won"' in html
    assert 'href="/leads/disputes/"' in html
    assert 'data-stage="visitor"' in html
    assert 'data-stage="won"' in html
    chart = json.loads(re.search(r'id="cockpit-data"[^>]*>(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert [s["label"] for s in chart["funnel"]] == [
        "Visitor",
        "Lead",
        "MQL",
        "SAL",
        "SQL",
        "Opportunity",
        "Won",
    ]
    assert "vendor/echarts.min.js" in html


@pytest.mark.parametrize("role", ["marketer", "sales_rep", "field_rep", "admin"])
def test_other_roles_land_on_their_home_with_the_goals_and_their_records(
    company: Company, role: str
) -> None:
    html = company.client(role).get("/").content.decode()
    assert "Hello, " in html
    assert "Shared goals" in html
    assert "Contacts you can see" in html
    assert "<h1>Cockpit</h1>" not in html


def test_login_lands_on_the_home_page(company: Company) -> None:
    from django.test import Client

    from conftest import PASSWORD

    client = Client()
    response = client.post("/login/", {"username": "head_north", "password": PASSWORD})
    assert response["Location"] == "/"


def test_the_period_picker_and_the_team_filter(company: Company) -> None:
    client = company.client("head")
    last = client.get("/insights/", {"period": "last_quarter"})
    assert last.status_code == 200
    summary = last.context["summary"]
    assert summary.window.last < company.today
    assert summary.deals_won == 0
    first = company.today - dt.timedelta(days=1)
    custom = client.get(
        "/insights/",
        {"period": "custom", "start": first.isoformat(), "end": company.today.isoformat()},
    )
    assert custom.context["summary"].deals_won == 3
    team = company.user("sales_rep", "south").team
    assert team is not None
    by_team = client.get(
        "/insights/",
        {
            "period": "custom",
            "start": first.isoformat(),
            "end": company.today.isoformat(),
            "team": team.pk,
        },
    )
    assert by_team.context["summary"].deals_won == 1
    assert f"team={team.pk}" in by_team.context["links"]["attribution"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "custom", "start": "2026-05-01"}, "end"),
        ({"period": "custom", "start": "2026-05-01", "end": "2026-04-01"}, "end"),
        ({"period": "custom", "start": "yesterday", "end": "2026-04-01"}, "start"),
        ({"period": "decade"}, "period"),
        ({"team": "999999"}, "team"),
        ({"model": "astrology"}, "model"),
    ],
)
def test_a_bad_period_is_a_form_error(company: Company, params: dict[str, str], field: str) -> None:
    response = company.client("head").get("/insights/", params)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert "summary" not in response.context


def test_goal_progress_on_the_cockpit(company: Company) -> None:
    services.goal_set(
        actor=Actor(user=company.user("head")),
        kind="revenue",
        period="quarter",
        day=company.today,
        team_id=None,
        target="3000",
    )
    response = company.client("head").get("/insights/", {"period": "this_quarter"})
    summary = response.context["summary"]
    assert summary.revenue_goal == 3000
    assert summary.revenue_attainment == 0.5
    assert summary.coverage is not None
    assert "50 %" in response.content.decode()


def test_the_cockpit_speaks_russian(company: Company) -> None:
    client = company.client("head")
    client.post("/language/", {"language": "ru"})
    html = client.get("/").content.decode()
    assert "Кокпит" in html
    assert "Воронка" in html
    assert "Выручка" in html
    marketer = company.client("marketer")
    marketer.post("/language/", {"language": "ru"})
    assert "Общие цели" in marketer.get("/").content.decode()


def test_every_role_may_open_the_cockpit_over_what_it_sees(company: Company) -> None:
    response = company.client("sales_rep", "south").get("/insights/")
    assert response.status_code == 200
    assert response.context["summary"].complete is False
    assert "counted over the records you can see" in response.content.decode()
