"""The health of background work: the summary an admin sees, failed tasks retried automatically
with backoff and by hand (page, API), and tasks of a dead worker released."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.management import call_command
from django.db import transaction
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from conftest import World
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry, WorkerHeartbeat
from tandem.core.task_health import task_health_summary
from tandem.core.task_recovery import (
    heartbeat_beat,
    retry_delay,
    task_retry,
    task_retry_after_failure,
    tasks_release_stuck,
)
from tandem.core.tasks import prune_login_attempts

pytestmark = pytest.mark.django_db


def _failed(error: str = "ValueError: older_than_minutes must be a whole number", runs: int = 5):
    result = prune_login_attempts.enqueue(older_than_minutes=1)
    now = timezone.now()
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.FAILED,
        started_at=now,
        finished_at=now,
        worker_ids=[f"w{i}" for i in range(runs)],
        exception_class_path="builtins.ValueError",
        traceback=f"Traceback (most recent call last):\n  File 'x', line 1\n{error}\n",
    )
    return DBTaskResult.objects.get(pk=result.id)


def test_the_summary_counts_queued_running_failed_and_done_and_sees_a_live_worker(settings):
    settings.TASKS_WORKER_STALE_SECONDS = 60
    now = timezone.now()
    assert task_health_summary(now=now).worker_alive is False
    old = prune_login_attempts.enqueue()
    DBTaskResult.objects.filter(pk=old.id).update(enqueued_at=now - dt.timedelta(minutes=7))
    prune_login_attempts.enqueue()
    later = prune_login_attempts.using(run_after=now + dt.timedelta(hours=1)).enqueue()
    failed = _failed()
    done = prune_login_attempts.enqueue()
    DBTaskResult.objects.filter(pk=done.id).update(status=TaskResultStatus.SUCCESSFUL)
    heartbeat_beat(worker_id="alive-one", now=now - dt.timedelta(seconds=10))
    heartbeat_beat(worker_id="dead-one", now=now - dt.timedelta(minutes=5))

    health = task_health_summary(now=now)

    assert (health.queue_depth, health.waiting, health.running) == (2, 1, 0)
    assert (health.failed_count, health.succeeded) == (1, 1)
    assert health.oldest_queued_age_seconds == pytest.approx(420, abs=2)
    assert health.worker_alive is True
    assert [(w.worker_id, w.alive) for w in health.workers] == [
        ("alive-one", True),
        ("dead-one", False),
    ]
    assert [(f.id, f.name, f.error, f.attempts) for f in health.recent_failed] == [
        (
            str(failed.id),
            "prune_login_attempts",
            "ValueError: older_than_minutes must be a whole number",
            5,
        )
    ]
    assert health.healthy is False
    assert str(later.id) not in {f.id for f in health.recent_failed}


def test_other_backends_are_not_tracked_and_immediate_needs_no_worker(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    health = task_health_summary()
    assert (health.backend, health.tracked, health.needs_worker) == ("immediate", False, False)
    assert health.healthy is True
    html = render_to_string("core/_task_health.html", {"task_health": health})
    assert "no worker is needed" in html


def test_the_partial_shows_the_worker_the_queue_and_the_failures():
    _failed(error="RuntimeError: the SMTP server said no")
    html = render_to_string("core/_task_health.html", {"task_health": task_health_summary()})
    assert "No worker running" in html
    assert "RuntimeError: the SMTP server said no" in html
    assert 'href="/settings/tasks/"' in html


def test_the_retry_delay_doubles_up_to_an_hour(settings):
    settings.TASKS_RETRY_DELAY_SECONDS = 30
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 8, 50)] == [
        30,
        60,
        120,
        240,
        3600,
        3600,
    ]


@pytest.mark.django_db(transaction=True)
def test_a_failing_task_is_retried_with_backoff_by_the_worker_then_stays_failed(settings):
    settings.TASKS_MAX_ATTEMPTS = 3
    settings.TASKS_RETRY_DELAY_SECONDS = 30
    with transaction.atomic():
        result = prune_login_attempts.enqueue(older_than_minutes=-1)  # refused: ValueError

    def run_worker() -> None:
        call_command("worker", "--burst", "--interval", "0", verbosity=0)

    started = timezone.now()
    run_worker()
    row = DBTaskResult.objects.get(pk=result.id)
    assert row.status == TaskResultStatus.READY
    assert len(row.worker_ids) == 1
    assert (
        started + dt.timedelta(seconds=29)
        < row.run_after
        < timezone.now() + dt.timedelta(seconds=31)
    )
    assert "ValueError: older_than_minutes" in row.traceback  # the last error is kept
    run_worker()  # not due yet: nothing runs
    assert DBTaskResult.objects.get(pk=result.id).worker_ids == row.worker_ids

    DBTaskResult.objects.filter(pk=result.id).update(run_after=timezone.now())
    run_worker()
    row = DBTaskResult.objects.get(pk=result.id)
    assert (row.status, len(row.worker_ids)) == (TaskResultStatus.READY, 2)
    assert row.run_after > timezone.now() + dt.timedelta(seconds=55)  # 60 s the second time

    DBTaskResult.objects.filter(pk=result.id).update(run_after=timezone.now())
    run_worker()
    row = DBTaskResult.objects.get(pk=result.id)
    assert (row.status, len(row.worker_ids)) == (TaskResultStatus.FAILED, 3)
    assert task_health_summary().failed_count == 1
    assert task_retry_after_failure(task_id=str(row.pk)) is None  # attempts used up


def test_a_retry_by_hand_queues_the_failed_task_again_and_is_audited(world: World):
    failed = _failed()
    admin = world.user("admin")
    row = task_retry(actor=Actor(user=admin), task_id=str(failed.id))
    assert row.status == TaskResultStatus.READY
    assert DBTaskResult.objects.ready().filter(pk=failed.id).exists()  # due now
    entry = AuditEntry.objects.get(model="django_tasks_database.DBTaskResult")
    assert (entry.actor, entry.object_id, entry.changes) == (
        admin,
        str(failed.id),
        {"status": ["FAILED", "READY"]},
    )
    with pytest.raises(InvalidInput, match="Only a failed task can be retried; this one is queued"):
        task_retry(actor=Actor(user=admin), task_id=str(failed.id))
    for unknown in (str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises(DBTaskResult.DoesNotExist):
            task_retry(actor=Actor(user=admin), task_id=unknown)


def test_the_page_lists_failed_tasks_and_retries_one_for_the_admin_only(world: World):
    failed = _failed(error="RuntimeError: <b>no</b>")
    client = Client(enforce_csrf_checks=False)
    for role in ("head", "marketer", "sales_rep", "field_rep"):
        client.force_login(world.user(role))
        assert client.get("/settings/tasks/").status_code == 403
        assert client.post(f"/settings/tasks/{failed.id}/retry/").status_code == 403
    client.force_login(world.user("admin"))
    page = client.get("/settings/tasks/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "RuntimeError: &lt;b&gt;no&lt;/b&gt;" in html
    assert f'action="/settings/tasks/{failed.id}/retry/"' in html
    assert client.get(f"/settings/tasks/{failed.id}/retry/").status_code == 405
    done = client.post(f"/settings/tasks/{failed.id}/retry/", follow=True)
    assert "The task is queued to run again." in done.content.decode()
    assert DBTaskResult.objects.get(pk=failed.id).status == TaskResultStatus.READY
    again = client.post(f"/settings/tasks/{failed.id}/retry/", follow=True)
    assert "Only a failed task can be retried" in again.content.decode()
    assert client.post(f"/settings/tasks/{uuid.uuid4()}/retry/").status_code == 404


def test_the_retry_button_needs_the_csrf_token(world: World):
    failed = _failed()
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.user("admin"))
    assert client.post(f"/settings/tasks/{failed.id}/retry/").status_code == 403
    assert DBTaskResult.objects.get(pk=failed.id).status == TaskResultStatus.FAILED


def test_a_running_task_of_a_silent_worker_is_released_and_a_live_ones_is_not(settings):
    settings.TASKS_WORKER_STALE_SECONDS = 30
    settings.TASKS_MAX_ATTEMPTS = 2
    now = timezone.now()
    heartbeat_beat(worker_id="live", now=now - dt.timedelta(seconds=5))
    heartbeat_beat(worker_id="dead", now=now - dt.timedelta(seconds=90))
    rows = {}
    for name, workers in {
        "live": ["live"],
        "dead": ["dead"],
        "dead-last-run": ["x", "dead"],
        "unknown": ["never-beat"],
    }.items():
        result = prune_login_attempts.enqueue()
        DBTaskResult.objects.filter(pk=result.id).update(
            status=TaskResultStatus.RUNNING,
            started_at=now - dt.timedelta(minutes=2),
            worker_ids=workers,
        )
        rows[name] = str(result.id)
    fresh = prune_login_attempts.enqueue()  # claimed a moment ago by a worker not yet beating
    DBTaskResult.objects.filter(pk=fresh.id).update(
        status=TaskResultStatus.RUNNING, started_at=now, worker_ids=["starting"]
    )

    released = tasks_release_stuck(now=now)

    assert sorted(released) == sorted([rows["dead"], rows["dead-last-run"], rows["unknown"]])
    statuses = {name: DBTaskResult.objects.get(pk=pk) for name, pk in rows.items()}
    assert statuses["live"].status == TaskResultStatus.RUNNING
    assert statuses["dead"].status == TaskResultStatus.READY  # one run of two: queued again
    assert statuses["dead-last-run"].status == TaskResultStatus.FAILED  # its second run
    assert "worker dead stopped beating" in statuses["dead-last-run"].traceback
    assert DBTaskResult.objects.get(pk=fresh.id).status == TaskResultStatus.RUNNING
    assert tasks_release_stuck(now=now) == []  # released once
    assert WorkerHeartbeat.objects.count() == 2
    tasks_release_stuck(now=now + dt.timedelta(days=2))
    assert WorkerHeartbeat.objects.count() == 0  # a day-old heartbeat is forgotten


# --- the API --------------------------------------------------------------------------------


def test_the_api_shows_the_health_and_retries_a_failed_task_for_the_admin_only(world: World):
    failed = _failed(error="RuntimeError: the SMTP server said no")
    for role in ("head", "marketer", "sales_rep"):
        other = Client()
        other.force_login(world.user(role))
        refused = other.get("/api/v1/tasks/health")
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        assert other.post(f"/api/v1/tasks/{failed.id}/retry").status_code == 403
    admin = Client()
    admin.force_login(world.user("admin"))
    health = admin.get("/api/v1/tasks/health").json()
    assert (health["backend"], health["worker_alive"], health["failed_count"]) == (
        "database",
        False,
        1,
    )
    assert health["healthy"] is False
    assert [(f["id"], f["error"], f["attempts"]) for f in health["recent_failed"]] == [
        (str(failed.id), "RuntimeError: the SMTP server said no", 5)
    ]
    retried = admin.post(f"/api/v1/tasks/{failed.id}/retry")
    assert (retried.status_code, retried.json()) == (202, {"id": str(failed.id), "status": "READY"})
    again = admin.post(f"/api/v1/tasks/{failed.id}/retry")
    assert again.status_code == 400
    assert "Only a failed task can be retried" in again.json()["message"]
    assert admin.post(f"/api/v1/tasks/{uuid.uuid4()}/retry").status_code == 404
    assert admin.post("/api/v1/tasks/not-a-uuid/retry").status_code in {400, 404, 422}
    assert (
        AuditEntry.objects.filter(object_id=str(failed.id), actor=world.user("admin")).count() == 1
    )


def test_the_page_speaks_russian(world: World):
    _failed()
    client = Client()
    client.force_login(world.user("admin"))
    html = client.get("/settings/tasks/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    words_ru = ("Фоновые задачи", "Обработчик не запущен", "Задачи с ошибкой", "Повторить")  # noqa: RUF001
    for words in words_ru:
        assert words in html
