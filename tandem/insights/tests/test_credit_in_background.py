"""The cockpit never computes the attribution in the request: while a worker computes the credit
split, the page shows every other number and says the split is being computed, and the summary
API answers ``credit_split: null`` with ``credit_split_state: running``; once the run is stored
both show it."""

from __future__ import annotations

from tandem.attribution import services as attribution
from tandem.attribution.models import AttributionRun
from tandem.insights.tests.conftest import Company


def test_the_cockpit_shows_the_rest_while_the_credit_split_is_computed(company: Company) -> None:
    head = company.client("head")
    body = head.get("/api/v1/insights/summary", company.quarter_ish).json()
    assert body["credit_split"] is None
    assert body["credit_split_state"] == "running"
    assert (body["top_content"], body["campaign_returns"]) == ([], [])
    assert body["revenue_won"] == "1500.00"  # the rest is there
    run = AttributionRun.objects.get()
    assert (run.status, run.model) == ("queued", "linear")
    assert body["credit_run_url"] == f"/api/v1/attribution/runs/{run.pk}"

    window = company.quarter_ish
    page = head.get(
        "/insights/", {"period": "custom", "start": window["from"], "end": window["to"]}
    ).content.decode()
    assert AttributionRun.objects.get() == run  # the page asks for the same run
    assert "Credit split being computed…" in page
    assert f"/attribution/runs/progress/?ids={run.pk}" in page
    assert 'id="chart-credit"' not in page

    assert attribution.runs_compute([run.pk]) == {run.pk: "done"}  # what the worker does
    body = head.get("/api/v1/insights/summary", company.quarter_ish).json()
    assert body["credit_split_state"] == "done"
    assert body["credit_run_url"] is None
    assert body["credit_split"]
    assert abs(sum(c["share"] for c in body["credit_split"].values()) - 1.0) < 1e-9


def test_a_failed_credit_run_shows_why_where_it_is_followed_and_is_tried_again_when_asked(
    company: Company,
) -> None:
    head = company.client("head")
    head.get("/api/v1/insights/summary", company.quarter_ish)
    run = AttributionRun.objects.get()
    AttributionRun.objects.filter(pk=run.pk).update(status="failed", error="out of memory")
    followed = head.get(f"/attribution/runs/progress/?ids={run.pk}").content.decode()
    assert "out of memory" in followed
    body = head.get("/api/v1/insights/summary", company.quarter_ish).json()
    assert (body["credit_split"], body["credit_split_state"]) == (None, "running")
    assert AttributionRun.objects.get(pk=run.pk).status == "queued"  # asked again: queued again
