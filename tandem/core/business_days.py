"""The organisation's working calendar: its time zone, working weekdays and holidays.

Sales sequences and automation flows wait in business days with `add_business_days`; a user's
"today" is `local_today`.

Invariants:
- a working day is a weekday with business hours in the organisation's settings (Monday to
  Friday when none has) that is not a `Holiday`;
- `add_business_days(moment, n)` keeps the local time of day in the organisation's time zone and
  lands on a working day for n >= 1; n <= 0 returns `moment` unchanged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo

from django.utils import timezone

from tandem.core.models import Holiday, Organisation, User

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def org_zone(org: Organisation | None = None) -> zoneinfo.ZoneInfo:
    name = (org or Organisation.current()).time_zone or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def add_business_days(moment: dt.datetime, days: int) -> dt.datetime:
    """`moment` moved forward by `days` working days of the organisation, at the same local time
    (see the module docstring)."""
    if days <= 0:
        return moment
    org = Organisation.current()
    zone = org_zone(org)
    local = moment.astimezone(zone)
    working = {i for i, name in enumerate(WEEKDAYS) if org.business_hours.get(name)}
    if not working:
        working = set(range(5))
    horizon = local.date() + dt.timedelta(days=days * 7 + 60)
    holidays = set(
        Holiday.objects.filter(date__gt=local.date(), date__lte=horizon).values_list(
            "date", flat=True
        )
    )
    day = local.date()
    left = days
    while left:
        day += dt.timedelta(days=1)
        if day.weekday() in working and day not in holidays:
            left -= 1
    result = dt.datetime.combine(day, local.time().replace(tzinfo=None))
    return result.replace(tzinfo=zone)


def local_today(user: User | None) -> dt.date:
    """Today in the user's time zone (the organisation's when the user has none)."""
    zone = org_zone()
    if user is not None and user.time_zone:
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = zoneinfo.ZoneInfo(user.time_zone)
    return timezone.now().astimezone(zone).date()
