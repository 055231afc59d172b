"""Background work: enqueued only after commit, ids only, run by the real database worker and by a
real RQ worker against the Redis on 127.0.0.1:6379."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tandem.core.models import LoginAttempt
from tandem.core.tasks import enqueue_on_commit, prune_login_attempts


def _attempts(*minutes_ago: int) -> None:
    now = timezone.now()
    LoginAttempt.objects.bulk_create(
        [
            LoginAttempt(username=f"u{i}", at=now - dt.timedelta(minutes=m))
            for i, m in enumerate(minutes_ago)
        ]
    )


@pytest.mark.django_db(transaction=True)
def test_enqueued_only_when_the_transaction_commits() -> None:
    with transaction.atomic():
        enqueue_on_commit(prune_login_attempts, older_than_minutes=30)
        assert DBTaskResult.objects.count() == 0
    rows = list(DBTaskResult.objects.values_list("task_path", "args_kwargs", "status"))
    assert rows == [
        (
            "tandem.core.tasks.prune_login_attempts",
            {"args": [], "kwargs": {"older_than_minutes": 30}},
            "READY",
        )
    ]


@pytest.mark.django_db(transaction=True)
def test_nothing_enqueued_when_the_transaction_rolls_back() -> None:
    class Boom(Exception):
        pass

    def change_then_fail() -> None:
        with transaction.atomic():
            enqueue_on_commit(prune_login_attempts, 30)
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()
    assert DBTaskResult.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_model_instances_and_non_json_values_are_refused_before_anything_is_queued() -> None:
    LoginAttempt.objects.create(username="x")
    attempt = LoginAttempt.objects.get()
    with pytest.raises(TypeError, match=r"attempt is a LoginAttempt instance: pass its id"):
        enqueue_on_commit(prune_login_attempts, attempt=attempt)
    with pytest.raises(TypeError, match=r"argument 0\[1\] is a LoginAttempt instance"):
        enqueue_on_commit(prune_login_attempts, [1, attempt])
    with pytest.raises(TypeError, match=r"when is a datetime: task arguments must be ids or JSON"):
        enqueue_on_commit(prune_login_attempts, when=timezone.now())
    with pytest.raises(TypeError, match=r"is not a task"):
        enqueue_on_commit(print, 1)  # type: ignore[arg-type]
    assert DBTaskResult.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_database_worker_runs_the_task_and_a_second_run_changes_nothing() -> None:
    _attempts(120, 60, 5)
    with transaction.atomic():
        enqueue_on_commit(prune_login_attempts, older_than_minutes=30)
        enqueue_on_commit(prune_login_attempts, older_than_minutes=30)

    call_command(
        "db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0", verbosity=0
    )

    results = [r.task_result for r in DBTaskResult.objects.order_by("enqueued_at", "id")]
    assert [r.status for r in results] == [TaskResultStatus.SUCCESSFUL] * 2
    assert sorted(r.return_value for r in results) == [0, 2]
    assert list(LoginAttempt.objects.values_list("username", flat=True)) == ["u2"]


@pytest.mark.django_db
def test_prune_refuses_a_negative_window() -> None:
    with pytest.raises(ValueError, match="whole number of minutes"):
        prune_login_attempts.call(older_than_minutes=-1)


def _redis_or_skip() -> object:
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable on 127.0.0.1:6379 ({exc})")
    return client


@pytest.mark.django_db(transaction=True)
def test_the_rq_backend_runs_the_task_through_redis() -> None:
    _redis_or_skip()
    import django_rq
    from rq import SimpleWorker

    # A queue of its own, so other tests sharing this Redis never see our job nor we theirs.
    queue_name = f"test-{uuid.uuid4().hex[:12]}"
    tasks = {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [queue_name]},
    }
    # django-rq reads results through the "default" connection.
    rq_queues = {name: {"URL": "redis://127.0.0.1:6379/0"} for name in ("default", queue_name)}
    _attempts(90, 1)
    with override_settings(TASKS=tasks, RQ_QUEUES=rq_queues):
        from django_tasks_rq import Job

        queued_task = prune_login_attempts.using(queue_name=queue_name)
        with transaction.atomic():
            enqueue_on_commit(queued_task, older_than_minutes=30)
            queue = django_rq.get_queue(queue_name, job_class=Job)
            assert queue.count == 0
        assert queue.count == 1
        job_id = queue.job_ids[0]
        try:
            worker = SimpleWorker([queue], connection=queue.connection, job_class=Job)
            assert worker.work(burst=True) is True
            result = queued_task.get_result(job_id)
            assert result.status == TaskResultStatus.SUCCESSFUL
            assert result.return_value == 1
            assert LoginAttempt.objects.count() == 1
        finally:
            queue.delete(delete_jobs=True)
