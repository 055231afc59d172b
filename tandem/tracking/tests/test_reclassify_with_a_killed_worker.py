"""A reclassification run whose worker is killed with SIGKILL part-way is taken over by its task,
run again once that worker counts as dead, and continues after its last chunk: every touchpoint
ends under the new rules and each is counted once; a run whose task gives up is failed with the
reason, and a new run can be started.

Real processes: `tandem worker` on a SQLite file, small chunks (RECLASSIFY_CHUNK_ROWS)."""

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

TOUCHPOINTS = 6000


def setup_run(n: int) -> int:
    """In the worker's database: `n` referral touchpoints from "partnerx" with channel inputs,
    then rules that make them "conference", published (the run queued); the run's id."""
    from tandem.core.audit import Actor
    from tandem.crm.models import Touchpoint
    from tandem.tracking import services
    from tandem.tracking.channels import default_rule_dicts
    from tandem.tracking.models import ReclassifyRun

    Touchpoint.objects.bulk_create(
        (
            Touchpoint(
                anonymous_id=f"a{i}",
                channel="referral",
                department="marketing",
                kind="page_view",
                properties={"ci": {"source_kind": "website", "utm_source": "partnerx"}},
            )
            for i in range(n)
        ),
        batch_size=1000,
    )
    rules = default_rule_dicts()
    rules.insert(0, {"utm_source": "^partnerx$", "channel": "conference", "department": "sales"})
    services.channel_rules_publish(actor=Actor.system(), rules=rules)
    return ReclassifyRun.objects.get().pk


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrate(tmp_path_factory.mktemp("migrated"))


def _run(var: Path, run_id: int) -> dict[str, object]:
    names = ("status", "processed", "changed", "total", "error")
    found = rows(var, f"SELECT {', '.join(names)} FROM tracking_reclassifyrun WHERE id = ?", run_id)
    return dict(zip(names, found[0], strict=True))


def _channels(var: Path) -> dict[str, int]:
    found = rows(var, "SELECT channel, count(*) FROM crm_touchpoint GROUP BY channel")
    return {str(channel): int(n) for channel, n in found}  # type: ignore[call-overload]


def _start_and_kill_at_15_percent(env: dict[str, str], var: Path, tmp_path: Path) -> int:
    run_id = int(python(env, f"from {__name__} import setup_run; print(setup_run({TOUCHPOINTS}))"))
    with worker(env, tmp_path / "worker-1.log") as first:
        wait(
            "15% of the touchpoints",
            lambda: int(_run(var, run_id)["processed"]) >= TOUCHPOINTS * 15 // 100,  # type: ignore[call-overload]
            timeout=90,
            every=0.02,
        )
        kill_hard(first)
    run = _run(var, run_id)
    assert run["status"] == "running"
    assert 0 < int(run["processed"]) < TOUCHPOINTS  # type: ignore[call-overload]
    return run_id


def _env(var: Path, **extra: str) -> dict[str, str]:
    return env_for(
        var,
        RECLASSIFY_CHUNK_ROWS="20",
        TASKS_WORKER_STALE_SECONDS="3",
        TASKS_RETRY_DELAY_SECONDS="1",
        **extra,
    )


def test_a_reclassification_whose_worker_is_killed_is_taken_over_and_finishes(
    migrated: Path, tmp_path: Path
) -> None:
    var = copy_database(migrated, tmp_path)
    env = _env(var)
    run_id = _start_and_kill_at_15_percent(env, var, tmp_path)
    with worker(env, tmp_path / "worker-2.log"):
        wait("the run to finish", lambda: _run(var, run_id)["status"] == "done", timeout=120)
    run = _run(var, run_id)
    assert (run["processed"], run["changed"], run["total"]) == (TOUCHPOINTS,) * 3  # once each
    assert _channels(var) == {"conference": TOUCHPOINTS}


def test_a_reclassification_whose_task_gives_up_is_failed_with_the_reason(
    migrated: Path, tmp_path: Path
) -> None:
    var = copy_database(migrated, tmp_path)
    env = _env(var, TASKS_MAX_ATTEMPTS="1")
    run_id = _start_and_kill_at_15_percent(env, var, tmp_path)
    time.sleep(3.2)  # TASKS_WORKER_STALE_SECONDS: the killed worker counts as dead
    with worker(env, tmp_path / "worker-2.log"):
        wait("the run to fail", lambda: _run(var, run_id)["status"] == "failed")
    assert str(_run(var, run_id)["error"]).startswith("interrupted: WorkerLost: worker ")
    # A new run (what publishing or "Run again" starts) finishes the work.
    again = python(
        env,
        "from tandem.core.audit import Actor; from tandem.tracking import services; "
        "print(services.reclassify_start(actor=Actor.system()).pk)",
    )
    with worker(env, tmp_path / "worker-3.log"):
        wait("the new run to finish", lambda: _run(var, int(again))["status"] == "done",
             timeout=120)  # fmt: skip
    assert _channels(var) == {"conference": TOUCHPOINTS}
