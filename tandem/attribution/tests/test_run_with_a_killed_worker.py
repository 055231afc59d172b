"""Attribution runs whose worker is killed with SIGKILL part-way through their bootstraps are
taken over by their task, run again once that worker counts as dead, and finish with every
replicate (never left "running"); runs whose task gives up for good are failed with the reason,
and asking for them again queues them anew.

Real processes: `tandem worker` on a SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tandem.core.tests.real_processes import (
    copy_database,
    env_for,
    kill_hard,
    migrate,
    python,
    rows,
    wait,
    worker,
)

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_leg_only]

ACCOUNTS = 120
REPLICATES = 1000
CHANNELS = ("email", "webinar", "paid_search", "organic_search", "sales_call", "conference")


def _spec() -> object:
    import datetime as dt

    from django.utils import timezone

    from tandem.attribution.services import JourneySpec

    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)  # the same run
    return JourneySpec(start=today - dt.timedelta(days=30), end=today + dt.timedelta(days=2))


def setup_data(accounts: int) -> None:
    """`accounts` accounts, each a contact with touches on several channels, two in three with
    a won deal; a head and a rep."""
    import datetime as dt

    from django.utils import timezone

    from tandem.core import services as core
    from tandem.core.audit import Actor
    from tandem.crm import services as crm
    from tandem.sales import services as sales

    system = Actor.system()
    core.user_create(actor=system, username="head", role="head", password=None)
    rep = core.user_create(actor=system, username="rep", role="sales_rep", password=None)
    pipeline = sales.pipeline_create(
        actor=system,
        name="New business",
        is_default=True,
        stages=[
            {"name": "Qualify", "probability": 10},
            {"name": "Won", "kind": "won"},
            {"name": "Lost", "kind": "lost"},
        ],
    )
    now = timezone.now()
    for i in range(accounts):
        account = crm.account_create(actor=system, name=f"Farm {i}", owner_id=rep.pk)
        contact = crm.contact_create(
            actor=system, first_name=f"C{i}", account_id=account.pk, owner_id=rep.pk
        )
        for step in range(2 + i % 4):
            crm.touchpoint_record(
                channel=CHANNELS[(i * 7 + step * 3) % len(CHANNELS)],
                kind="page_view",
                department="marketing",
                contact=contact,
                occurred_at=now - dt.timedelta(days=20 - step),
            )
        if i % 3:
            deal = sales.deal_create(
                actor=system,
                name=f"Deal {i}",
                pipeline_id=pipeline.pk,
                owner_id=rep.pk,
                amount="1000",
                currency_code="EUR",
                contacts=[{"contact_id": contact.pk}],
            )
            sales.deal_win(actor=system, deal=deal)


# six runs of one request, each with its bootstrap: one task computes them in turn, so the kill
# lands part-way however fast the machine
MODELS = ("shapley", "markov", "linear", "position", "first", "last")
REQUEST = (
    "from tandem.core.models import User; "
    "from tandem.attribution.services import ModelParams, runs_request; "
    f"from {__name__} import _spec; "
    "runs = runs_request(user=User.objects.get(username='head'), spec=_spec(), params_list=["
    f"ModelParams(model=m, n_boot={REPLICATES}) for m in {MODELS!r}]); "
    "print(' '.join(f'{r.pk}:{r.status}' for r in runs))"
)


def _request(env: dict[str, str]) -> dict[int, str]:
    """The head asks for the runs: their ids and states."""
    pairs = python(env, REQUEST).splitlines()[-1].split()
    return {int(pk): status for pk, status in (pair.split(":") for pair in pairs)}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with the data (built once for the module)."""
    var = tmp_path_factory.mktemp("migrated")
    database = migrate(var)
    python(env_for(var), f"from {__name__} import setup_data; setup_data({ACCOUNTS})")
    return database


def _run(var: Path, run_id: int) -> dict[str, object]:
    names = ("status", "progress_done", "progress_total", "error")
    found = rows(
        var, f"SELECT {', '.join(names)} FROM attribution_attributionrun WHERE id = ?", run_id
    )
    return dict(zip(names, found[0], strict=True))


def _env(var: Path, **extra: str) -> dict[str, str]:
    return env_for(var, TASKS_WORKER_STALE_SECONDS="3", TASKS_RETRY_DELAY_SECONDS="1", **extra)


def _start_and_kill_part_way(env: dict[str, str], var: Path, tmp_path: Path) -> list[int]:
    asked = _request(env)
    assert set(asked.values()) == {"queued"}
    ids = sorted(asked)

    def part_way() -> bool:
        runs = [_run(var, pk) for pk in ids]
        return any(int(r["progress_done"]) > 0 for r in runs)  # type: ignore[call-overload]

    with worker(env, tmp_path / "worker-1.log") as first:
        wait("some of the replicates", part_way, timeout=120, every=0.05)
        kill_hard(first)
    states = [_run(var, pk)["status"] for pk in ids]
    assert "running" in states  # killed in the middle of a run
    assert states.count("done") < len(ids)
    return ids


def test_an_attribution_run_whose_worker_is_killed_is_taken_over_and_finishes(
    migrated: Path, tmp_path: Path
) -> None:
    var = copy_database(migrated, tmp_path)
    env = _env(var)
    ids = _start_and_kill_part_way(env, var, tmp_path)
    with worker(env, tmp_path / "worker-2.log"):
        wait(
            "the runs to finish",
            lambda: all(_run(var, pk)["status"] == "done" for pk in ids),
            timeout=300,
        )
    for pk in ids:
        run = _run(var, pk)
        assert run["progress_done"] == run["progress_total"]
        assert run["error"] == ""
    result = python(
        env,
        "from tandem.attribution.models import AttributionRun; "
        f"r = AttributionRun.objects.get(pk={ids[0]}).result; "
        "print(round(sum(c['share'] for c in r['credits']['channel']), 6))",
    )
    assert float(result.splitlines()[-1]) == pytest.approx(1.0)


def test_an_attribution_run_whose_task_gives_up_is_failed_with_the_reason(
    migrated: Path, tmp_path: Path
) -> None:
    var = copy_database(migrated, tmp_path)
    env = _env(var, TASKS_MAX_ATTEMPTS="1")
    ids = _start_and_kill_part_way(env, var, tmp_path)
    unfinished = [pk for pk in ids if _run(var, pk)["status"] != "done"]
    time.sleep(3.2)  # TASKS_WORKER_STALE_SECONDS: the killed worker counts as dead
    with worker(env, tmp_path / "worker-2.log"):
        wait(
            "the runs to fail",
            lambda: all(_run(var, pk)["status"] == "failed" for pk in unfinished),
        )
    for pk in unfinished:
        assert str(_run(var, pk)["error"]).startswith("interrupted: WorkerLost: worker ")
    # Asking for them again (a page or API request) queues the failed ones anew.
    again = _request(env)
    assert sorted(again) == ids
    assert {again[pk] for pk in unfinished} == {"queued"}
