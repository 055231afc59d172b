"""Background work of the sales app: thin tasks that take ids and call services.

`advance_sequences` is periodic: schedule it every few minutes (cron or the worker's scheduler,
see docs/sales.md). Both tasks are idempotent: steps and emails are claimed with conditional
UPDATEs, so running a task twice does the work once.
"""

from __future__ import annotations

from django_tasks import task

from tandem.sales import sequences


@task()
def advance_sequences() -> int:
    """Run every due sequence step; returns how many ran."""
    return sequences.sequences_advance()


@task()
def send_sequence_email(email_id: int) -> bool:
    """Send one queued sequence email (no-op if it was sent or is being sent)."""
    return sequences.sequence_email_send(int(email_id))
