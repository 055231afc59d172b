"""Background work for events (ids in, idempotent): invitations and due reminders.

`event_reminders_send` is meant to run every few minutes (cron: `manage.py shell -c` or the
worker's scheduler); each reminder is claimed with a conditional UPDATE, so overlapping runs
never send one twice.
"""

from __future__ import annotations

from django_tasks import task

from tandem.marketing.events import services


@task()
def invitation_send(registration_id: int) -> bool:
    return services.invitation_deliver(registration_id=registration_id)


@task()
def event_invitations_send(event_id: int) -> int:
    return services.invitations_deliver(event_id=event_id)


@task()
def event_reminders_send() -> int:
    return services.reminders_send_due()
