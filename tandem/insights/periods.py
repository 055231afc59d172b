"""Reporting periods: fiscal quarters and months, and the window a page or the API asks for.

Invariants:
- a `Window` is a range of whole local days, `first` to `last` inclusive, read in one time zone
  (the viewer's, else the organisation's): it covers the instants `[start_at, end_at)`;
- a quarter starts on the first day of a month counted in threes from the organisation's fiscal
  year start; a month starts on its first day; both end the day before the next one starts;
- a window spans at most `MAX_DAYS` days and ends after it starts, else `InvalidInput`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Literal

from django.utils.translation import gettext as _

from tandem.core.errors import InvalidInput
from tandem.core.models import Organisation, User

PeriodKind = Literal["quarter", "month"]
MAX_DAYS = 3660
EARLIEST = dt.date(1990, 1, 1)
LATEST = dt.date(2199, 12, 31)


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_start(day: dt.date, kind: str, fiscal_start_month: int) -> dt.date:
    """The first day of the fiscal quarter or the month containing `day`."""
    month_start = day.replace(day=1)
    if kind == "month":
        return month_start
    offset = (day.month - fiscal_start_month) % 3
    return add_months(month_start, -offset)


def period_end(start: dt.date, kind: str) -> dt.date:
    """The last day of the period starting on `start` (inclusive)."""
    return add_months(start, 3 if kind == "quarter" else 1) - dt.timedelta(days=1)


def zone_of(user: User | None) -> zoneinfo.ZoneInfo:
    """The viewer's time zone, else the organisation's, else UTC."""
    for name in (getattr(user, "time_zone", "") or "", Organisation.current().time_zone):
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


@dataclass(frozen=True)
class Window:
    first: dt.date
    last: dt.date
    zone: zoneinfo.ZoneInfo

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), tzinfo=self.zone)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), tzinfo=self.zone)

    def contains_period(self, start: dt.date, end: dt.date) -> bool:
        return self.first <= start and end <= self.last


def window(first: dt.date, last: dt.date, zone: zoneinfo.ZoneInfo) -> Window:
    """A checked window; `InvalidInput` names the bad end."""
    errors: dict[str, list[str]] = {}
    for name, day in (("from", first), ("to", last)):
        if not EARLIEST <= day <= LATEST:
            errors[name] = [_("must be between %(a)s and %(b)s") % {"a": EARLIEST, "b": LATEST}]
    if not errors and last < first:
        errors["to"] = [_("must not be before the start")]
    elif not errors and (last - first).days >= MAX_DAYS:
        errors["to"] = [_("the period may span at most ten years")]
    if errors:
        raise InvalidInput(errors)
    return Window(first, last, zone)


def quarter_window(today: dt.date, zone: zoneinfo.ZoneInfo, shift: int = 0) -> Window:
    """This fiscal quarter (shift 0), the last one (-1), and so on."""
    fiscal = Organisation.current().fiscal_year_start_month
    start = add_months(period_start(today, "quarter", fiscal), 3 * shift)
    return Window(start, period_end(start, "quarter"), zone)


def today_in(zone: zoneinfo.ZoneInfo) -> dt.date:
    return dt.datetime.now(zone).date()
