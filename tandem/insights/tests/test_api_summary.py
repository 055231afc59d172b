"""GET /api/v1/insights/summary: the cockpit's numbers agree with the deals, hand-off and dispute
lists of the same caller and period; scoped; bad input is a 400 naming the field."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from tandem.core.audit import Actor
from tandem.core.models import User
from tandem.insights import services
from tandem.insights.periods import period_end
from tandem.insights.tests.conftest import Company
from tandem.leads.models import Handoff

PERSONAS = [
    ("head", "north"),
    ("marketer", "north"),
    ("sales_rep", "north"),
    ("sales_rep", "south"),
    ("field_rep", "north"),
]


def _summary(client: Client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/insights/summary", params)
    assert response.status_code == 200, response.content
    return response.json()


def _all_deals(client: Client) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/sales/deals", params).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _inside(day: dt.date, first: str, last: str) -> bool:
    return dt.date.fromisoformat(first) <= day <= dt.date.fromisoformat(last)


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_summary_agrees_with_the_deal_handoff_and_dispute_lists(
    company: Company, persona: tuple[str, str]
) -> None:
    client = company.client(*persona)
    window = company.quarter_ish
    got = _summary(client, **window)
    zone = dt.UTC  # nobody here has a time zone and the organisation's is UTC

    deals = _all_deals(client)
    won = [
        d
        for d in deals
        if d["status"] == "won"
        and _inside(_when(d["closed_at"]).astimezone(zone).date(), window["from"], window["to"])
    ]
    open_ = [
        d
        for d in deals
        if d["status"] == "open"
        and d["close_date"]
        and _inside(dt.date.fromisoformat(d["close_date"]), window["from"], window["to"])
    ]
    assert got["deals_won"] == len(won)
    assert Decimal(got["revenue_won"]) == sum(
        (Decimal(d["amount"]) for d in won if d["currency"] == "EUR"), Decimal(0)
    )
    assert got["deals_open"] == len(open_)
    assert Decimal(got["pipeline_open"]) == sum(
        (Decimal(d["amount"]) for d in open_ if d["currency"] == "EUR"), Decimal(0)
    )
    funnel = {step["stage"]: step for step in got["funnel"]}
    assert funnel["won"]["entered"] == len(won)

    response = client.get("/api/v1/leads/handoffs", {"limit": 200})
    assert response.status_code == 200
    handoffs = response.json()
    in_window = [
        h
        for h in handoffs
        if _inside(_when(h["created_at"]).astimezone(zone).date(), window["from"], window["to"])
    ]
    marketing = got["sla"]["marketing"]
    assert marketing["mqls_delivered"] == len(in_window)
    assert marketing["accepted"] == sum(h["status"] in ("accepted", "contacted") for h in in_window)
    assert marketing["rejected"] == sum(h["status"] == "rejected" for h in in_window)

    page = client.get("/leads/disputes/")
    open_disputes = (
        int(re.search(r'<span class="count">(\d+)</span>', page.content.decode()).group(1))  # type: ignore[union-attr]
        if page.status_code == 200
        else 0
    )
    assert got["disputes_open"] == open_disputes


def test_each_caller_counts_only_what_they_may_see(company: Company) -> None:
    window = company.quarter_ish
    head = _summary(company.client("head"), **window)
    north = _summary(company.client("sales_rep", "north"), **window)
    south = _summary(company.client("sales_rep", "south"), **window)
    field = _summary(company.client("field_rep", "north"), **window)
    assert (head["revenue_won"], head["deals_won"]) == ("1500.00", 3)
    assert (north["revenue_won"], north["deals_won"]) == ("1000.00", 2)
    assert (south["revenue_won"], south["deals_won"]) == ("500.00", 1)
    assert (head["pipeline_open"], head["pipeline_weighted"]) == ("2900.00", "1090.00")
    assert (north["pipeline_open"], south["pipeline_open"]) == ("2000.00", "900.00")
    # the north hand-off's rep is a side of the dispute about it (the record's owner joins the
    # thread when it opens), so the north rep counts it too; the south rep does not
    assert [head["disputes_open"], north["disputes_open"], south["disputes_open"]] == [1, 1, 0]
    assert head["sla"]["marketing"]["mqls_delivered"] == 3
    assert north["sla"]["marketing"]["mqls_delivered"] == 2
    assert field["sla"]["marketing"]["mqls_delivered"] == 0  # field reps see no hand-offs
    assert head["complete"] is True
    assert north["complete"] is False


def test_the_funnel_is_in_order_with_conversion_and_median_days(company: Company) -> None:
    got = _summary(company.client("head"), **company.quarter_ish)
    assert [s["stage"] for s in got["funnel"]] == [
        "visitor",
        "lead",
        "mql",
        "sal",
        "sql",
        "opportunity",
        "won",
    ]
    steps = {s["stage"]: s for s in got["funnel"]}
    # three hand-offs made three MQLs; sales accepted one (SAL), so one MQL converted
    assert (steps["mql"]["entered"], steps["mql"]["converted_to_next"]) == (3, 1)
    assert (steps["sal"]["entered"], steps["sal"]["converted_to_next"]) == (1, 0)
    # deals created in the window: six (the old win was created 400 days ago); three won
    assert (steps["opportunity"]["entered"], steps["opportunity"]["converted_to_next"]) == (6, 3)
    assert steps["opportunity"]["median_days"] == 0.0
    assert steps["won"] == {
        "stage": "won",
        "entered": 3,
        "converted_to_next": None,
        "median_days": None,
    }


def test_a_team_narrows_deals_hand_offs_and_goals(company: Company) -> None:
    head = company.user("head")
    north_sales = company.user("sales_rep", "north").team
    assert north_sales is not None
    services.goal_set(
        actor=Actor(user=head),
        kind="revenue",
        period="quarter",
        day=company.today,
        team_id=north_sales.pk,
        target="2500",
    )
    window = company.quarter_ish
    first = dt.date.fromisoformat(window["from"])
    window["from"] = (first - dt.timedelta(days=120)).isoformat()  # holds the whole quarter
    window["to"] = (company.today + dt.timedelta(days=100)).isoformat()
    got = _summary(company.client("head"), **window, team=north_sales.pk)
    assert (got["revenue_won"], got["revenue_goal"], got["team"]) == (
        "1000.00",
        "2500.00",
        north_sales.pk,
    )
    assert (
        got["sla"]["marketing"]["mqls_delivered"]
        == Handoff.objects.filter(assigned_to__team=north_sales).count()
    )
    joint = _summary(company.client("head"), **window)
    assert joint["revenue_goal"] is None  # only the team has a goal


def test_an_industry_narrows_deals_hand_offs_and_has_no_goal(company: Company) -> None:
    north = company.world.accounts[("sales_rep", "north")]
    type(north).objects.filter(pk=north.pk).update(industry="medical")
    services.goal_set(
        actor=Actor(user=company.user("head")),
        kind="revenue",
        period="month",
        day=company.today,
        team_id=None,
        target="100",
    )
    first = company.today.replace(day=1)
    window = {"from": first.isoformat(), "to": period_end(first, "month").isoformat()}
    medical = _summary(company.client("head"), **window, industry="medical")
    assert (medical["industry"], medical["revenue_won"], medical["deals_won"]) == (
        "medical",
        "1000.00",
        2,
    )
    assert medical["sla"]["marketing"]["mqls_delivered"] == 2
    assert medical["revenue_goal"] is None  # goals are per team, not per industry
    assert _summary(company.client("head"), **window)["revenue_goal"] == "100.00"
    agriculture = _summary(company.client("head"), **window, industry="agriculture")
    assert (agriculture["revenue_won"], agriculture["deals_won"]) == ("0.00", 0)
    page = company.client("head").get("/insights/", {"industry": "medical"})
    assert page.context["summary"].deals_won == 2
    assert "industry=medical" in page.context["links"]["attribution"]


def test_days_are_read_in_the_callers_time_zone(company: Company) -> None:
    head = company.user("head")
    won = company.deals["north won"]
    won.refresh_from_db()
    assert won.closed_at is not None
    late = won.closed_at.replace(hour=20, minute=0, second=0, microsecond=0)
    type(won).objects.filter(pk=won.pk).update(closed_at=late)
    early = late.replace(hour=2)  # the south win stays on the same day in Vladivostok (12:00)
    type(won).objects.filter(pk=company.deals["south won"].pk).update(closed_at=early)
    utc_day = late.astimezone(dt.UTC).date()
    day = {"from": utc_day.isoformat(), "to": utc_day.isoformat()}
    assert _summary(company.client("head"), **day)["revenue_won"] == "1500.00"
    User.objects.filter(pk=head.pk).update(time_zone="Asia/Vladivostok")  # UTC+10: next day
    assert _summary(company.client("head"), **day)["revenue_won"] == "500.00"
    next_day = (utc_day + dt.timedelta(days=1)).isoformat()
    got = _summary(company.client("head"), **{"from": next_day, "to": next_day})
    assert (got["revenue_won"], got["period"]["time_zone"]) == ("1000.00", "Asia/Vladivostok")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-02-30", "to": "2026-03-31"}, "from"),
        ({"from": "2026-01-01", "to": "tomorrow"}, "to"),
        ({"from": "20260101", "to": "2026-03-31"}, "from"),
        ({"from": "2026-04-01", "to": "2026-03-31"}, "to"),
        ({"to": "2026-03-31"}, "from"),
        ({"from": "2026-01-01", "to": "2026-03-31", "team": "999999"}, "team"),
        ({"from": "2026-01-01", "to": "2026-03-31", "team": "north"}, "team"),
        ({"from": "2026-01-01", "to": "2026-03-31", "model": "astrology"}, "model"),
        ({"from": "2026-01-01", "to": "2026-03-31", "industry": "mining"}, "industry"),
        ({"from": "1000-01-01", "to": "2026-03-31"}, "from"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    company: Company, params: dict[str, str], field: str
) -> None:
    response = company.client("head").get("/api/v1/insights/summary", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["details"], body
    assert body["message"]


def test_the_summary_needs_a_signed_in_caller(db: None) -> None:
    response = Client().get("/api/v1/insights/summary", {"from": "2026-01-01", "to": "2026-01-31"})
    assert response.status_code == 401
