"""Process analytics over a hand-built history (analytics_data): stage-to-stage conversion and
median days of deals and leads, where deals wait now, the breakdown, the 30/60/90-day lead
cohorts; scoped per viewer; the page, the API and bad input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from tandem.insights import process
from tandem.insights.periods import Window, period_end
from tandem.insights.tests.analytics_data import History, history

__all__ = ["history"]

UTC = dt.UTC


def _window(h: History, first_offset: int = -1) -> Window:
    first = h.t0.date() + dt.timedelta(days=first_offset)
    return Window(first, period_end(h.t0.date().replace(day=1), "month"), UTC)  # type: ignore[arg-type]


def _flow(rows: list[process.StageFlow]) -> dict[str, tuple[Any, ...]]:
    return {
        r.label: (r.entered, r.advanced, r.median_days_to_next, r.median_days_in_stage)
        for r in rows
    }


def test_deals_convert_stage_to_stage_with_median_days(history: History) -> None:
    head = history.user("head")
    flow = _flow(process.deal_flow(head, _window(history), process.Filters()))
    # Qualify: D1..D4 enter; D1, D2, D4 reach Propose after 2, 4, 4 days; D3 is lost.
    assert flow["Qualify"] == (4, 3, 4.0, 3.0)  # stays of 2, 4, 1, 4 days
    # Propose: D1, D2, D4 enter; D1 and D4 are won 4 days later; D2 is still there.
    assert flow["Propose"] == (3, 2, 4.0, 4.0)
    assert flow["Won"] == (2, None, None, None)
    assert "Lost" not in flow


def test_a_rep_counts_only_the_deals_and_leads_they_may_see(history: History) -> None:
    rep = history.user("sales_rep", "north")
    window = _window(history)
    flow = _flow(process.deal_flow(rep, window, process.Filters()))
    assert flow["Qualify"] == (3, 2, 3.0, 2.0)  # D1, D2, D3 (D4 is south's)
    assert flow["Won"][0] == 1
    leads = _flow(process.lead_flow(rep, window, process.Filters()))
    assert leads["Lead"][0] == 3  # L1, L2, L3
    south = _flow(process.lead_flow(history.user("sales_rep", "south"), window, process.Filters()))
    assert south["Lead"][0] == 1  # L4
    # through the API the same
    api = history.client("sales_rep", "south").get(
        "/api/v1/insights/process", {**history.month, "by": "rep"}
    )
    assert api.status_code == 200, api.content
    assert [r["entered"] for r in api.json()["lead_flow"]][:2] == [1, 1]


def test_leads_convert_through_the_lifecycle(history: History) -> None:
    leads = _flow(process.lead_flow(history.user("head"), _window(history, 0), process.Filters()))
    # lead: L1..L4 (L3 never moved, counted from its creation); reach MQL after 5, 44, 10 days
    assert leads["Lead"] == (4, 3, 10.0, 10.0)
    # MQL in the window: L1 (SQL 15 days later) and L4 (still MQL)
    assert leads["Marketing qualified lead"] == (2, 1, 15.0, 15.0)
    assert leads["Customer"][0] == 0


def test_the_longest_waits_against_the_stage_history_are_outliers(history: History) -> None:
    waits, outliers = process.waiting(history.user("head"), process.Filters(), timezone.now())
    by_stage = {w.label: w for w in waits}
    qualify = by_stage["Qualify"]
    # history of Qualify: ended stays of 2, 4, 1 and 4 days: median 3, 75th percentile 4
    assert (qualify.history, qualify.median_days, qualify.p75_days) == (4, 3.0, 4.0)
    assert qualify.open_now == 2  # D5 (10 days), D6 (1 day)
    assert qualify.over_p75 == 1
    assert [o.deal_id for o in outliers] == [history.deals["D5"].pk]
    assert outliers[0].days == pytest.approx(10, abs=0.01)
    # Propose has two ended stays only: too little history to call D2 an outlier
    assert by_stage["Propose"].open_now == 1
    assert by_stage["Propose"].over_p75 == 0
    assert waits[0].label == "Qualify"  # waiting now 5.5 days against a median of 3


def test_lead_cohorts_at_30_60_and_90_days(history: History) -> None:
    (cohort,) = process.cohorts(
        history.user("head"), _window(history, 0), process.Filters(), timezone.now()
    )
    assert cohort.month == history.t0.date().replace(day=1)
    assert cohort.leads == 4
    assert cohort.eligible == {30: 4, 60: 4, 90: 4}
    assert cohort.reached == {
        "mql": {30: 2, 60: 3, 90: 3},  # L1 (5 d), L4 (10 d), L2 (45 d)
        "sql": {30: 1, 60: 1, 90: 1},  # L1 (20 d)
        "opportunity": {30: 0, 60: 1, 90: 1},  # L1 (40 d)
        "won": {30: 0, 60: 0, 90: 1},  # L1 (70 d)
    }
    assert cohort.rate("mql", 60) == 0.75
    # a cohort whose days have not passed is not counted as failing
    early = history.t0 + dt.timedelta(days=45)
    (young,) = process.cohorts(history.user("head"), _window(history, 0), process.Filters(), early)
    assert young.eligible == {30: 4, 60: 0, 90: 0}
    assert young.rate("mql", 60) is None


def test_breakdown_by_rep_channel_and_industry(history: History) -> None:
    head = history.user("head")
    window = _window(history, 0)
    north, south = history.user("sales_rep", "north"), history.user("sales_rep", "south")
    by_rep = {r.key: r for r in process.breakdown(head, window, process.Filters(), "rep")}
    n, s = by_rep[str(north.pk)], by_rep[str(south.pk)]
    assert (n.leads, n.mql, n.sql, n.deals, n.won) == (3, 2, 1, 3, 1)
    assert (s.leads, s.mql, s.sql, s.deals, s.won) == (1, 1, 0, 1, 1)
    assert n.median_days_to_win == 6.0
    by_channel = {r.key: r for r in process.breakdown(head, window, process.Filters(), "channel")}
    assert by_channel["email"].leads == 1
    assert by_channel["organic_search"].leads == 1
    assert by_channel["none"].leads == 1  # L3 has no touch
    assert by_channel["email"].deals == 3  # the north account came through email
    assert by_channel["paid_search"].deals == 1
    only_email = process.Filters(channel="email")
    assert [r.key for r in process.breakdown(head, window, only_email, "channel")] == ["email"]


def test_the_filters_narrow_every_section(history: History) -> None:
    head = history.user("head")
    south = history.user("sales_rep", "south")
    got = process.process(
        head, window=_window(history), filters=process.Filters(rep_id=south.pk), by="team"
    )
    assert _flow(got.deal_flow)["Qualify"][0] == 1
    assert _flow(got.lead_flow)["Lead"][0] == 1
    assert [c.leads for c in got.cohorts] == [0, 1]  # the window starts the month before
    team = process.process(
        head,
        window=_window(history),
        filters=process.Filters(team_id=south.team_id),
        by="industry",
    )
    assert _flow(team.deal_flow)["Qualify"][0] == 1


def test_the_page_shows_the_numbers_and_links_the_outliers(history: History) -> None:
    client = history.client("head")
    page = client.get(
        "/insights/process/",
        {"period": "custom", "start": history.month["from"], "end": history.month["to"]},
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/sales/deals/{history.deals['D5'].pk}/" in html
    assert 'data-cell="mql-60" title="3 / 4">75 %' in html
    assert "/insights/process/export/cohorts/?" in html
    cockpit = client.get("/insights/").content.decode()
    assert "/insights/process/" in cockpit


def test_the_api_gives_the_page_numbers(history: History) -> None:
    got = history.client("head").get("/api/v1/insights/process", {**history.month, "by": "rep"})
    assert got.status_code == 200, got.content
    data = got.json()
    lead = next(r for r in data["lead_flow"] if r["key"] == "lead")
    assert (lead["entered"], lead["advanced"], lead["conversion"]) == (4, 3, 0.75)
    (cohort,) = data["cohorts"]
    cell = next(c for c in cohort["cells"] if (c["milestone"], c["days"]) == ("won", 90))
    assert (cell["reached"], cell["eligible"], cell["rate"]) == (1, 4, 0.25)
    assert data["outliers"][0]["deal_id"] == history.deals["D5"].pk


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-05-01", "to": "2026-04-01"}, "to"),
        ({"from": "2026-02-30", "to": "2026-04-01"}, "from"),
        ({"from": "2026-01-01", "to": "2026-04-01", "by": "mood"}, "by"),
        ({"from": "2026-01-01", "to": "2026-04-01", "team": 999999}, "team"),
        ({"from": "2026-01-01", "to": "2026-04-01", "rep": 999999}, "rep"),
        ({"from": "2026-01-01", "to": "2026-04-01", "channel": "<b>"}, "channel"),
        ({"from": "2026-01-01", "to": "2026-04-01", "industry": "space"}, "industry"),
    ],
)
def test_bad_api_parameters_are_a_400_naming_the_field(
    history: History, params: dict[str, Any], field: str
) -> None:
    got = history.client("head").get("/api/v1/insights/process", params)
    assert got.status_code == 400, got.content
    assert field in got.json()["details"]


def test_a_reversed_period_on_the_page_is_a_form_error(history: History) -> None:
    got = history.client("head").get(
        "/insights/process/", {"period": "custom", "start": "2026-05-01", "end": "2026-04-01"}
    )
    assert got.status_code == 400
    assert "must not be before the start" in got.content.decode()
    bad_by = history.client("head").get("/insights/process/", {"by": "mood"})
    assert bad_by.status_code == 400
