"""The business-hours clock: SLA deadlines and remaining time in working hours only.

A `BusinessCalendar` is the organisation's weekly hours ({"mon": [["09:00", "18:00"]], ...}) and
its holidays, read in one time zone (the rep's, else the organisation's).

Invariants:
- `add_business_hours(start, h)` is the earliest instant `t` such that exactly `h` hours of
  working time lie in [start, t]; for h == 0 it is `start` moved to the next working instant;
- `business_hours_between(a, b)` is the working time in [a, b] (0 when b <= a), so
  `business_hours_between(s, add_business_hours(s, h)) == h`;
- holidays are whole local days without working hours; results are aware datetimes in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MAX_DAYS_AHEAD = 800  # a calendar with no working time at all must not loop forever


def _parse_time(text: str) -> dt.time:
    if text in ("24:00", "24:00:00"):
        return dt.time.max
    return dt.time.fromisoformat(text)


@dataclass(frozen=True)
class BusinessCalendar:
    tz: ZoneInfo
    windows: dict[int, list[tuple[dt.time, dt.time]]]
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def from_hours(
        cls, hours: dict[str, list[list[str]]], tz_name: str, holidays: Iterable[dt.date] = ()
    ) -> BusinessCalendar:
        try:
            tz = ZoneInfo(tz_name or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            tz = ZoneInfo("UTC")
        windows: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for index, key in enumerate(DAY_KEYS):
            spans = []
            for start, end in hours.get(key, []) or []:
                a, b = _parse_time(start), _parse_time(end)
                if a < b:
                    spans.append((a, b))
            windows[index] = sorted(spans)
        return cls(tz=tz, windows=windows, holidays=frozenset(holidays))

    def _spans(self, start_local: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working spans (in UTC) that end after `start_local`, in order."""
        day = start_local.date()
        for _ in range(MAX_DAYS_AHEAD):
            if day not in self.holidays:
                for a, b in self.windows.get(day.weekday(), []):
                    begin = dt.datetime.combine(day, a, tzinfo=self.tz)
                    end = dt.datetime.combine(day, b, tzinfo=self.tz)
                    if end > start_local:
                        # Spans in UTC: same-zone subtraction would ignore a DST change.
                        yield max(begin, start_local).astimezone(dt.UTC), end.astimezone(dt.UTC)
            day += dt.timedelta(days=1)

    def add_business_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        left = dt.timedelta(hours=hours)
        local = start.astimezone(self.tz)
        for begin, end in self._spans(local):
            length = end - begin
            if left <= length:
                return begin + left
            left -= length
        raise ValueError("the calendar has no working hours in the next years")

    def business_hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        if end <= start:
            return 0.0
        total = dt.timedelta()
        end = end.astimezone(dt.UTC)
        for begin, stop in self._spans(start.astimezone(self.tz)):
            if begin >= end:
                break
            total += min(stop, end) - begin
        return total.total_seconds() / 3600


def calendar_for(user: object | None = None) -> BusinessCalendar:
    """The organisation's calendar in the user's time zone (else the organisation's)."""
    from tandem.core.models import Holiday, Organisation

    org = Organisation.current()
    tz_name = getattr(user, "time_zone", "") or org.time_zone
    holidays = Holiday.objects.values_list("date", flat=True)
    return BusinessCalendar.from_hours(org.business_hours or {}, tz_name, holidays)
