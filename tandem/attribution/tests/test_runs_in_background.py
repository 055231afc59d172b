"""Attribution runs are computed by a worker, never in the request: a page or API request for a
run not stored yet answers at once with the run's state, polling shows its progress, the stored
result is served at once afterwards, asking again while it runs finds the same run, a stale run
is taken over, and a failed run shows why and is tried again when asked for again."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conftest import World
from tandem.attribution import services
from tandem.attribution.engine import bootstrap_credit
from tandem.attribution.engine.simulate import default_scenario, simulate_journeys
from tandem.attribution.models import AttributionRun
from tandem.attribution.tests.test_journeys import build_timeline

CREDIT = "/api/v1/attribution/credit"
PAGE = "/attribution/"
PERIOD = {"start": "2026-02-01", "end": "2026-03-01", "unit": "account"}


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def work() -> None:
    """The real database worker, until the queue is empty."""
    call_command("worker", "--burst", "--interval", "0", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_a_request_answers_at_once_and_the_worker_computes_the_run_once(world: World) -> None:
    build_timeline(world)
    head = signed_in(world.user("head"))
    asked = head.get(CREDIT, {**PERIOD, "model": "linear", "n_boot": 40})
    assert asked.status_code == 202
    state = asked.json()
    assert (state["status"], state["progress"], state["replicates_done"]) == ("queued", 0, 0)
    assert state["replicates_total"] == 40 * 5
    assert state["url"] == f"/api/v1/attribution/runs/{state['id']}"
    again = head.get(CREDIT, {**PERIOD, "model": "linear", "n_boot": 40})
    assert (again.status_code, again.json()["id"]) == (202, state["id"])  # the same run
    assert DBTaskResult.objects.count() == 1  # and one task for it
    polled = head.get(state["url"]).json()
    assert (polled["status"], polled["result"]) == ("queued", None)

    work()

    polled = head.get(state["url"]).json()
    assert (polled["status"], polled["progress"], polled["error"]) == ("done", 100, "")
    assert polled["replicates_done"] == polled["replicates_total"] == 200
    assert polled["finished_at"] is not None
    channel = {r["name"]: r for r in polled["result"]["credits"]["channel"]}
    assert channel["email"]["share"] == pytest.approx(1 / 3)
    assert channel["email"]["upper"] is not None
    stored = head.get(CREDIT, {**PERIOD, "model": "linear", "n_boot": 40})
    assert stored.status_code == 200  # cached: the result at once, nothing enqueued
    assert stored.json()["id"] == state["id"]
    assert stored.json()["credits"] == polled["result"]["credits"]
    assert DBTaskResult.objects.count() == 1
    assert AttributionRun.objects.get().status == "done"


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_the_progress_then_reloads_into_the_result(world: World) -> None:
    build_timeline(world)
    head = signed_in(world.user("head"))
    query = {**PERIOD, "model": "linear", "n_boot": "20"}
    page = head.get(PAGE, query)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="attribution-progress"' in html
    assert 'data-status="running"' in html
    assert 'hx-trigger="every 2s"' in html
    assert 'id="chart-channel"' not in html
    runs = list(AttributionRun.objects.order_by("pk"))
    assert [r.model for r in runs] == ["linear", "first", "last", "position", "markov", "shapley"]
    assert {r.status for r in runs} == {"queued"}
    poll_url = f"/attribution/runs/progress/?ids={','.join(str(r.pk) for r in runs)}"
    assert poll_url.replace("&", "&amp;") in html or poll_url in html
    polled = head.get(poll_url, HTTP_HX_REQUEST="true")
    assert "HX-Refresh" not in polled
    assert 'data-percent="0"' in polled.content.decode()

    work()

    polled = head.get(poll_url, HTTP_HX_REQUEST="true")
    assert polled["HX-Refresh"] == "true"
    assert 'data-status="done"' in polled.content.decode()
    page = head.get(PAGE, query).content.decode()
    assert 'id="attribution-progress"' not in page
    assert 'id="chart-channel"' in page
    # Another rep cannot follow the head's runs.
    rep = signed_in(world.user("sales_rep"))
    assert rep.get(poll_url).status_code == 404
    assert rep.get(f"/api/v1/attribution/runs/{runs[0].pk}").status_code == 404


def test_polling_shows_the_replicates_done(world: World) -> None:
    build_timeline(world)
    head = signed_in(world.user("head"))
    state = head.get(CREDIT, {**PERIOD, "model": "markov", "n_boot": 50}).json()
    AttributionRun.objects.filter(pk=state["id"]).update(status="running", progress_done=125)
    polled = head.get(state["url"]).json()
    assert (polled["status"], polled["replicates_done"], polled["replicates_total"]) == (
        "running",
        125,
        250,
    )
    assert polled["progress"] == 50
    fragment = head.get(f"/attribution/runs/progress/?ids={state['id']}").content.decode()
    assert 'data-percent="49"' in fragment  # 125 of 250 replicates and the point estimates
    assert "Computing… 49%" in fragment


def test_the_bootstrap_tells_its_replicates_as_it_goes() -> None:
    data = simulate_journeys(300, default_scenario(), seed=1)
    told: list[int] = []
    bootstrap_credit(data.journeys, "markov", n_boot=7, progress=told.append)
    assert told == [1, 2, 3, 4, 5, 6, 7]
    told.clear()
    bootstrap_credit(data.journeys, "linear", n_boot=30, progress=told.append)
    assert told[-1] == 30
    assert told == sorted(told)


def test_a_run_reports_every_replicate_of_every_dimension(world: World) -> None:
    build_timeline(world)
    head = world.user("head")
    spec, params = services.build_request(
        start=dt.date(2026, 2, 1), end=dt.date(2026, 3, 1), unit="account", n_boot=10
    )
    from tandem.attribution.journeys import build_journeys

    told: list[int] = []
    services.compute(build_journeys(head, spec), params, told.append)
    assert told[-1] == services.replicates(params) == 50
    assert told == sorted(told)


def test_a_failed_run_shows_why_and_asking_again_queues_it_again(world: World) -> None:
    build_timeline(world)
    head = signed_in(world.user("head"))
    state = head.get(CREDIT, {**PERIOD, "model": "first", "n_boot": 0}).json()
    run = AttributionRun.objects.get(pk=state["id"])
    run.params = {**run.params, "start": "not a time"}  # what the worker will choke on
    run.save(update_fields=["params"])
    assert services.runs_compute([run.pk]) == {run.pk: "failed"}
    polled = head.get(state["url"]).json()
    assert polled["status"] == "failed"
    assert "not a time" in polled["error"]
    assert polled["result"] is None
    fragment = head.get(f"/attribution/runs/progress/?ids={run.pk}").content.decode()
    assert 'data-status="failed"' in fragment
    assert "not a time" in fragment
    assert "hx-trigger" not in fragment  # a failed run is not polled any more
    assert head.get(state["url"]).json()["status"] == "failed"  # following does not retry
    assert services.runs_compute([run.pk]) == {run.pk: "failed"}  # a second delivery: nothing
    retried = head.get(CREDIT, {**PERIOD, "model": "first", "n_boot": 0})
    assert (retried.status_code, retried.json()["id"]) == (202, run.pk)
    assert (retried.json()["status"], retried.json()["error"]) == ("queued", "")


def test_a_run_that_went_silent_is_taken_over(world: World) -> None:
    build_timeline(world)
    head = signed_in(world.user("head"))
    state = head.get(CREDIT, {**PERIOD, "model": "last", "n_boot": 0}).json()
    long_ago = timezone.now() - services.STALE - dt.timedelta(minutes=1)
    AttributionRun.objects.filter(pk=state["id"]).update(status="running", updated_at=long_ago)
    asked = head.get(CREDIT, {**PERIOD, "model": "last", "n_boot": 0}).json()
    assert (asked["id"], asked["status"]) == (state["id"], "queued")
    assert services.runs_compute([state["id"]]) == {state["id"]: "done"}
    assert head.get(CREDIT, {**PERIOD, "model": "last", "n_boot": 0}).status_code == 200


def test_a_running_run_is_not_computed_twice(world: World) -> None:
    build_timeline(world)
    head = signed_in(world.user("head"))
    state = head.get(CREDIT, {**PERIOD, "model": "last", "n_boot": 0}).json()
    AttributionRun.objects.filter(pk=state["id"]).update(status="running")
    assert services.runs_compute([state["id"]]) == {state["id"]: "running"}  # claimed elsewhere
    assert head.get(CREDIT, {**PERIOD, "model": "last", "n_boot": 0}).status_code == 202


def test_the_progress_speaks_russian(world: World) -> None:
    build_timeline(world)
    head = world.user("head")
    head.language = "ru"
    head.save(update_fields=["language"])
    client = signed_in(head)
    page = client.get(PAGE, {**PERIOD, "n_boot": "10"}, HTTP_ACCEPT_LANGUAGE="ru")
    assert "Вычисляется… 0\xa0%" in page.content.decode()  # a Russian percentage
