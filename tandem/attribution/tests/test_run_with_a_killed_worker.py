"""An attribution run whose worker is killed with SIGKILL part-way through its bootstrap is taken
over by its task, run again once that worker counts as dead, and finishes with every replicate
(it is never left "running"); a run whose task gives up for good is failed with the reason, and
asking for it again queues it anew.

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


REQUEST = (
    "from tandem.core.models import User; "
    "from tandem.attribution.services import ModelParams, run_request; "
    f"from {__name__} import _spec; "
    "run = run_request(user=User.objects.get(username='head'), spec=_spec(), "
    f"params=ModelParams(model='shapley', n_boot={REPLICATES})); "
    "print(run.pk, run.status)"
)


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


def _start_and_kill_part_way(env: dict[str, str], var: Path, tmp_path: Path) -> int:
    run_id, status = python(env, REQUEST).splitlines()[-1].split()  # the head asks for it
    assert status == "queued"
    with worker(env, tmp_path / "worker-1.log") as first:
        wait(
            "some of the replicates",
            lambda: int(_run(var, run_id)["progress_done"]) > 0,  # type: ignore[call-overload]
            timeout=120,
            every=0.05,
        )
        kill_hard(first)
    run = _run(var, run_id)
    assert run["status"] == "running"
    assert 0 < int(run["progress_done"]) < int(run["progress_total"])  # type: ignore[call-overload]
    return int(run_id)


def test_an_attribution_run_whose_worker_is_killed_is_taken_over_and_finishes(
    migrated: Path, tmp_path: Path
) -> None:
    var = copy_database(migrated, tmp_path)
    env = _env(var)
    run_id = _start_and_kill_part_way(env, var, tmp_path)
    with worker(env, tmp_path / "worker-2.log"):
        wait("the run to finish", lambda: _run(var, run_id)["status"] == "done", timeout=240)
    run = _run(var, run_id)
    assert run["progress_done"] == run["progress_total"]
    assert run["error"] == ""
    result = python(
        env,
        "from tandem.attribution.models import AttributionRun; "
        f"r = AttributionRun.objects.get(pk={run_id}).result; "
        "print(round(sum(c['share'] for c in r['credits']['channel']), 6))",
    )
    assert float(result.splitlines()[-1]) == pytest.approx(1.0)


def test_an_attribution_run_whose_task_gives_up_is_failed_with_the_reason(
    migrated: Path, tmp_path: Path
) -> None:
    var = copy_database(migrated, tmp_path)
    env = _env(var, TASKS_MAX_ATTEMPTS="1")
    run_id = _start_and_kill_part_way(env, var, tmp_path)
    time.sleep(3.2)  # TASKS_WORKER_STALE_SECONDS: the killed worker counts as dead
    with worker(env, tmp_path / "worker-2.log"):
        wait("the run to fail", lambda: _run(var, run_id)["status"] == "failed")
    assert str(_run(var, run_id)["error"]).startswith("interrupted: WorkerLost: worker ")
    # Asking for it again (a page or API request) queues it anew.
    again, status = python(env, REQUEST).splitlines()[-1].split()
    assert (int(again), status) == (run_id, "queued")
