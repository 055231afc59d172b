"""Periodic work of the programmes (registered in settings.PERIODIC_TASKS).

Each task takes no arguments and is idempotent: reminders are claimed per certificate with a
conditional UPDATE, earnings are unique per source, expiry takes only what is due.
"""

from __future__ import annotations

from django_tasks import task

from tandem.core.audit import Actor
from tandem.programmes import loyalty, trainings
from tandem.programmes.models import Membership


@task()
def recertification_reminders_send() -> int:
    """Email each certified attendee a month before their certificate ends (once)."""
    return trainings.recertification_reminders_send()


@task()
def loyalty_earn_and_expire() -> int:
    """Earn for new won deal lines and event attendance of members, then expire due points."""
    written = loyalty.loyalty_sync(actor=Actor.system())
    for membership_id in Membership.objects.filter(balance__gt=0).values_list("pk", flat=True):
        if loyalty.points_expire(actor=Actor.system(), membership_id=membership_id):
            written += 1
    return written
