"""Background work through Django's Tasks API (the `django_tasks` backport), and its conventions.

Conventions every task in Tandem follows:

- **Enqueue after commit.** Work that depends on a change is enqueued with `enqueue_on_commit`, so a
  worker never sees a task for a change that was rolled back, or runs it before the change is
  visible. Never call `task.enqueue()` inside an open transaction.
- **Ids, not objects.** Arguments are record ids and plain JSON values (str, int, float, bool,
  None, lists and string-keyed dicts of those). A model instance is refused with a `TypeError`:
  the worker loads fresh rows itself, in another process, maybe minutes later.
- **Idempotent.** A task may run twice (a worker killed after the work but before reporting
  success, a retry, an operator re-enqueueing). Running it again must leave the same state:
  delete-what-is-expired, upsert with unique constraints, or claim first.
- **Claim due work with a conditional UPDATE.** A task that picks rows to process marks them
  in one statement, e.g.
  ``Model.objects.filter(pk=pk, claimed_at__isnull=True).update(claimed_at=now)`` and proceeds
  only when it returns 1, so two workers never do the same row; no check-then-act.
- **Thin.** A task parses its arguments and calls a service; business rules live in services.

Which backend runs the tasks is a setting (`TASKS_BACKEND`): the database worker by default
(`tandem worker`, which `tandem serve` also runs), Redis/RQ for scale-out; see docs/operations.md.
With the database backend a task that raises is run again later, with doubling delays, up to
TASKS_MAX_ATTEMPTS runs, and a task held by a worker that died is released
(tandem.core.task_recovery): one more reason every task must be idempotent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django_tasks import task
from django_tasks.base import Task

from tandem.core.invitations import invitation_email_send
from tandem.core.models import LoginAttempt
from tandem.core.password_reset import password_reset_email_send

_JSON_SCALARS = (str, int, float, bool, type(None))


def _check_plain(value: Any, where: str) -> None:
    """Raise TypeError unless `value` is a JSON value (and, above all, not a model instance)."""
    if isinstance(value, models.Model):
        raise TypeError(
            f"{where} is a {type(value).__name__} instance: pass its id (e.g. {where}.pk) to a "
            "task, never a model instance"
        )
    if isinstance(value, models.QuerySet):
        raise TypeError(f"{where} is a queryset: pass a list of ids to a task")
    if isinstance(value, _JSON_SCALARS):
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a non-string key {key!r}: task arguments are JSON")
            _check_plain(item, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}: task arguments must be ids or JSON values "
        "(str, int, float, bool, None, lists and dicts of those)"
    )


def enqueue_on_commit(
    task_: Task[Any, Any], *args: Any, using: str | None = None, **kwargs: Any
) -> None:
    """Enqueue `task_(*args, **kwargs)` once the current transaction commits (now if none is open).

    Nothing is enqueued if the transaction rolls back. Arguments are checked here, in the caller,
    so a model instance fails loudly where the mistake is made, not later in a worker.
    """
    if not isinstance(task_, Task):
        raise TypeError(f"{task_!r} is not a task: decorate the function with @task()")
    for index, value in enumerate(args):
        _check_plain(value, f"argument {index}")
    for name, value in kwargs.items():
        _check_plain(value, name)
    transaction.on_commit(lambda: task_.enqueue(*args, **kwargs), using=using)


# --- tasks of the core app ------------------------------------------------------------------


@task()
def prune_login_attempts(older_than_minutes: int | None = None) -> int:
    """Delete failed-login records older than the lockout window; returns how many went.

    Idempotent: a second run finds nothing older than the cut-off left to delete.
    """
    minutes = settings.LOGIN_LOCKOUT_MINUTES if older_than_minutes is None else older_than_minutes
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
        raise ValueError("older_than_minutes must be a whole number of minutes, 0 or more")
    cutoff = timezone.now() - dt.timedelta(minutes=minutes)
    deleted, _by_model = LoginAttempt.objects.filter(at__lt=cutoff).delete()
    return deleted


@task()
def invitation_send(user_id: int, site_url: str) -> bool:
    """Email an invited person their set-password link (nothing once they have a password)."""
    return invitation_email_send(user_id=user_id, site_url=site_url)


@task()
def password_reset_send(email: str, site_url: str) -> int:
    """Mail a password-reset link to the accounts with this address, if any."""
    return password_reset_email_send(email=email, site_url=site_url)


@task()
def export_job_run(job_id: int) -> str:
    """Write the file of a large export (tandem.core.export_jobs); returns the job's status.

    Idempotent: the job is claimed with a conditional UPDATE, so a second delivery does nothing."""
    from tandem.core.export_jobs import export_job_run as run  # it enqueues this task

    return run(job_id)


@task()
def exports_expire() -> int:
    """Delete export files past their expiry (periodic); returns how many jobs expired."""
    from tandem.core import export_jobs

    return export_jobs.exports_expire()
