"""Business-time arithmetic: weekends, holidays, make-up working days, lunch breaks,
across midnight, and emergencies on the 7x24 clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from cmectl.errors import UsageError
from cmectl.sla import ALWAYS, add_business_time, business_seconds, load_calendar, parse_calendar

SH = ZoneInfo("Asia/Shanghai")
CN = load_calendar("cn")


def at(y, m, d, hh=0, mm=0, tz=SH):
    return dt.datetime(y, m, d, hh, mm, tzinfo=tz)


def test_inside_working_hours_counts_wall_time():
    assert business_seconds(CN, at(2026, 11, 24, 10), at(2026, 11, 24, 10, 15)) == 15 * 60


def test_lunch_break_does_not_count():
    # Tuesday 11:50 -> 13:10 is 10 + 10 working minutes.
    assert business_seconds(CN, at(2026, 11, 24, 11, 50), at(2026, 11, 24, 13, 10)) == 20 * 60


def test_request_after_hours_is_due_next_morning():
    due = add_business_time(CN, at(2026, 11, 24, 20, 0), 15 * 60)
    assert due == at(2026, 11, 25, 9, 15)


def test_across_midnight_only_working_time_counts():
    # Tuesday 17:50 -> Wednesday 09:05: 10 minutes on Tuesday, 5 on Wednesday.
    assert business_seconds(CN, at(2026, 11, 24, 17, 50), at(2026, 11, 25, 9, 5)) == 15 * 60


def test_weekend_is_skipped():
    # Friday 17:55 + 15 working minutes -> Monday 09:10.
    assert add_business_time(CN, at(2026, 11, 27, 17, 55), 15 * 60) == at(2026, 11, 30, 9, 10)
    assert business_seconds(CN, at(2026, 11, 28, 10), at(2026, 11, 29, 16)) == 0


def test_public_holidays_are_skipped():
    # National Day 2026: 1-7 October off. A request on 30 Sept 17:58 is due on 8 October.
    assert add_business_time(CN, at(2026, 9, 30, 17, 58), 15 * 60) == at(2026, 10, 8, 9, 13)


def test_make_up_working_days_count():
    # Saturday 10 October 2026 is worked in exchange for the National Day holiday.
    assert CN.is_working_day(dt.date(2026, 10, 10))
    assert business_seconds(CN, at(2026, 10, 10, 9), at(2026, 10, 10, 10)) == 3600
    assert not CN.is_working_day(dt.date(2026, 10, 11))


def test_emergencies_run_on_the_7x24_clock():
    start = at(2026, 10, 3, 2, 0)  # 02:00 on a national holiday
    assert add_business_time(ALWAYS, start, 15 * 60) == at(2026, 10, 3, 2, 15)
    assert business_seconds(ALWAYS, start, at(2026, 10, 3, 3, 0)) == 3600


def test_other_timezones_are_converted():
    # 02:00 UTC = 10:00 in Shanghai, on a working Tuesday.
    utc = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)
    assert add_business_time(CN, utc, 600) == at(2026, 11, 24, 10, 10)


def test_end_before_start_is_negative():
    assert business_seconds(CN, at(2026, 11, 24, 10, 15), at(2026, 11, 24, 10)) == -900


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        business_seconds(CN, dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 1, 5, 11))


@pytest.mark.parametrize("data, message", [
    ({"timezone": "Mars/Olympus"}, "unknown timezone"),
    ({"working_days": ["mon", "funday"]}, "unknown working days"),
    ({"working_hours": [["18:00", "09:00"]]}, "end before they start"),
    ({"working_hours": [["09:00", "13:00"], ["12:00", "18:00"]]}, "overlap"),
    ({"holidays": ["2026-13-01"]}, "is not a date"),
    ({"holidays": ["2026-02-10..2026-02-01"]}, "ends before it starts"),
])
def test_bad_calendars_are_clear_errors(data, message):
    with pytest.raises(UsageError, match=message):
        parse_calendar(data, "test.yml")


def test_a_calendar_without_working_time_is_an_error():
    never = parse_calendar({"working_days": []}, "never.yml")
    with pytest.raises(UsageError, match="no working time"):
        add_business_time(never, at(2026, 1, 5, 10), 60)
