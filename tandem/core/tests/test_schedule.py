"""Periodic tasks are enqueued once per interval, however many schedulers tick."""

from __future__ import annotations

import datetime as dt
import inspect
import subprocess
import sys

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tandem.core.models import ScheduledRun
from tandem.core.schedule import tick

pytestmark = pytest.mark.django_db

EVERY_HOUR = {"core.prune_login_attempts": ("tandem.core.tasks.prune_login_attempts", 3600)}


def test_a_due_task_is_enqueued_once_per_interval(settings):
    settings.PERIODIC_TASKS = EVERY_HOUR
    now = timezone.now()
    assert tick(now) == ["core.prune_login_attempts"]
    assert tick(now) == []  # a second scheduler at the same moment finds nothing due
    assert tick(now + dt.timedelta(minutes=59)) == []
    assert tick(now + dt.timedelta(minutes=61)) == ["core.prune_login_attempts"]
    names = list(DBTaskResult.objects.values_list("task_path", flat=True))
    assert names == ["tandem.core.tasks.prune_login_attempts"] * 2
    run = ScheduledRun.objects.get(name="core.prune_login_attempts")
    assert run.next_run_at == now + dt.timedelta(minutes=121)


def test_every_configured_periodic_task_exists_and_runs_without_arguments():
    from django.conf import settings
    from django.utils.module_loading import import_string
    from django_tasks.base import Task

    assert settings.PERIODIC_TASKS
    for path, every in settings.PERIODIC_TASKS.values():
        task = import_string(path)
        assert isinstance(task, Task), path
        assert every >= 60
        required = [
            p
            for p in inspect.signature(task.func).parameters.values()
            if p.default is inspect.Parameter.empty
        ]
        assert required == [], f"{path} needs arguments"


@pytest.mark.slow  # starts the scheduler as a process
@pytest.mark.sqlite_leg_only  # on a SQLite file of its own in either leg
def test_the_scheduler_command_runs_once(tmp_path):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "TANDEM_VAR_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    tandem = [sys.executable, "-m", "config.cli"]
    subprocess.run([*tandem, "manage", "migrate", "-v0"], env=env, check=True, timeout=300)
    result = subprocess.run(
        [*tandem, "scheduler", "--once"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "enqueued core.prune_login_attempts" in result.stdout
    bad = subprocess.run(
        [*tandem, "scheduler", "--interval", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr


def test_the_periodic_rescore_enqueues_one_scoring_run_per_active_group():
    from tandem.core.audit import Actor
    from tandem.leads.scoring import scoring_model_create
    from tandem.leads.tasks import retrain_all_predictive, score_all_groups

    groups = [
        scoring_model_create(actor=Actor.system(), name=name, product_line=name)
        for name in ("sensors", "seeders", "scanners")
    ]
    groups[2].is_active = False
    groups[2].save(update_fields=["is_active"])
    assert score_all_groups.call() == 2
    queued = DBTaskResult.objects.filter(task_path="tandem.leads.tasks.score_group")
    assert sorted(r.args_kwargs["args"][0] for r in queued) == [groups[0].pk, groups[1].pk]
    assert retrain_all_predictive.call() == 2
    queued = DBTaskResult.objects.filter(task_path="tandem.leads.tasks.retrain_predictive")
    assert sorted(r.args_kwargs["args"][0] for r in queued) == [groups[0].pk, groups[1].pk]
