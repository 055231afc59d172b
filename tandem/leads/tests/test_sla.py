"""The business-hours clock, pure: working hours, weekends, holidays and time zones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tandem.core.models import default_business_hours
from tandem.leads.sla import BusinessCalendar

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def cal(tz: str = "Europe/Moscow", holidays: tuple[dt.date, ...] = ()) -> BusinessCalendar:
    return BusinessCalendar.from_hours(default_business_hours(), tz, holidays)


def test_friday_evening_lead_is_due_monday_midday_moscow_time():
    start = dt.datetime(2025, 3, 7, 17, 30, tzinfo=MSK)  # a Friday
    due = cal().add_business_hours(start, 4)
    assert due == dt.datetime(2025, 3, 10, 12, 30, tzinfo=MSK)
    assert due.tzinfo == dt.UTC


def test_a_holiday_monday_pushes_the_deadline_to_tuesday():
    start = dt.datetime(2025, 3, 7, 17, 30, tzinfo=MSK)
    due = cal(holidays=(dt.date(2025, 3, 10),)).add_business_hours(start, 4)
    assert due == dt.datetime(2025, 3, 11, 12, 30, tzinfo=MSK)


def test_the_same_instant_gives_different_deadlines_in_different_time_zones():
    start = dt.datetime(2025, 3, 7, 14, 30, tzinfo=dt.UTC)  # 17:30 Moscow, 15:30 Berlin
    assert cal("Europe/Moscow").add_business_hours(start, 1) == dt.datetime(
        2025, 3, 10, 9, 30, tzinfo=MSK
    )
    assert cal("Europe/Berlin").add_business_hours(start, 1) == dt.datetime(
        2025, 3, 7, 16, 30, tzinfo=BERLIN
    )


def test_weekend_and_night_starts_wait_for_the_next_morning():
    saturday = dt.datetime(2025, 3, 8, 11, 0, tzinfo=MSK)
    assert cal().add_business_hours(saturday, 0) == dt.datetime(2025, 3, 10, 9, 0, tzinfo=MSK)
    assert cal().add_business_hours(saturday, 9) == dt.datetime(2025, 3, 10, 18, 0, tzinfo=MSK)
    night = dt.datetime(2025, 3, 11, 23, 0, tzinfo=MSK)
    assert cal().add_business_hours(night, 2.5) == dt.datetime(2025, 3, 12, 11, 30, tzinfo=MSK)


def test_long_slas_span_several_days_and_split_working_days():
    hours = {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "tue": [["09:00", "13:00"]]}
    calendar = BusinessCalendar.from_hours(hours, "UTC")
    start = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC)
    assert calendar.add_business_hours(start, 2) == dt.datetime(2025, 3, 10, 15, 0, tzinfo=dt.UTC)
    # Mon 12-13 (1) + 14-18 (4) + Tue 9-13 (4) = 9; the 10th hour is on the next Monday
    assert calendar.add_business_hours(start, 10) == dt.datetime(2025, 3, 17, 10, 0, tzinfo=dt.UTC)


def test_hours_between_is_the_inverse_of_adding():
    calendar = cal(holidays=(dt.date(2025, 3, 10),))
    start = dt.datetime(2025, 3, 6, 16, 15, tzinfo=MSK)
    for hours in (0.25, 1, 4, 9, 13.5, 40):
        due = calendar.add_business_hours(start, hours)
        assert calendar.business_hours_between(start, due) == pytest.approx(hours)
    assert calendar.business_hours_between(start, start - dt.timedelta(hours=5)) == 0.0


def test_daylight_saving_change_does_not_shift_business_hours():
    start = dt.datetime(2025, 3, 28, 17, 0, tzinfo=BERLIN)  # Friday; clocks go forward Sunday
    assert cal("Europe/Berlin").add_business_hours(start, 2) == dt.datetime(
        2025, 3, 31, 10, 0, tzinfo=BERLIN
    )


def test_a_calendar_without_working_time_refuses_instead_of_looping():
    calendar = BusinessCalendar.from_hours({}, "UTC")
    with pytest.raises(ValueError, match="no working hours"):
        calendar.add_business_hours(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), 1)


def test_unknown_time_zone_falls_back_to_utc_and_naive_starts_are_refused():
    calendar = cal("Mars/Olympus")
    assert calendar.tz == ZoneInfo("UTC")
    with pytest.raises(ValueError, match="aware"):
        calendar.add_business_hours(dt.datetime(2025, 1, 1), 1)  # noqa: DTZ001
