"""The SLA clock: service-level time measured in business time.

CME promises a first response within 15 minutes during working hours (5x8) and handles
emergencies around the clock. A :class:`Calendar` says which moments are working time
(working days, working hours, public holidays, and the weekend days that are worked in
exchange for them); :func:`business_seconds` and :func:`add_business_time` do the arithmetic.
Emergencies use :data:`ALWAYS` (7x24).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from cmectl.errors import UsageError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BUILTIN = Path(__file__).resolve().parent / "calendars"


@dataclass(frozen=True)
class Calendar:
    name: str
    tz: dt.tzinfo
    working_days: frozenset[int] = frozenset(range(5))  # Monday = 0
    hours: tuple[tuple[dt.time, dt.time], ...] = ((dt.time(9), dt.time(18)),)
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    extra_working_days: frozenset[dt.date] = field(default_factory=frozenset)
    always: bool = False  # 7x24: every moment counts

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.extra_working_days:
            return True
        return day.weekday() in self.working_days and day not in self.holidays

    def intervals(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working intervals of one local day, as aware datetimes."""
        if not self.is_working_day(day):
            return []
        return [(dt.datetime.combine(day, start, self.tz), dt.datetime.combine(day, end, self.tz))
                for start, end in self.hours]


ALWAYS = Calendar(name="7x24", tz=dt.UTC, always=True)


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("SLA arithmetic needs timezone-aware datetimes")
    return moment


def business_seconds(cal: Calendar, start: dt.datetime, end: dt.datetime) -> float:
    """Working time between two moments, in seconds (negative if end is before start)."""
    start, end = _aware(start), _aware(end)
    if end < start:
        return -business_seconds(cal, end, start)
    if cal.always:
        return (end - start).total_seconds()
    total = 0.0
    day = start.astimezone(cal.tz).date()
    last = end.astimezone(cal.tz).date()
    while day <= last:
        for lo, hi in cal.intervals(day):
            lo, hi = max(lo, start), min(hi, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
    return total


def add_business_time(cal: Calendar, start: dt.datetime, seconds: float,
                      horizon_days: int = 400) -> dt.datetime:
    """The moment when ``seconds`` of working time have passed since ``start``."""
    start = _aware(start)
    if cal.always:
        return start + dt.timedelta(seconds=seconds)
    remaining = seconds
    day = start.astimezone(cal.tz).date()
    for _ in range(horizon_days):
        for lo, hi in cal.intervals(day):
            lo = max(lo, start)
            if hi <= lo:
                continue
            span = (hi - lo).total_seconds()
            if remaining <= span:
                return lo + dt.timedelta(seconds=remaining)
            remaining -= span
        day += dt.timedelta(days=1)
    raise UsageError(f"the calendar {cal.name!r} has no working time in {horizon_days} days",
                     "check its working_days and holidays")


# -- loading ---------------------------------------------------------------------------------

def _dates(items, source: str) -> frozenset[dt.date]:
    out: set[dt.date] = set()
    for item in items or []:
        text = str(item)
        first, _, last = text.partition("..")
        try:
            lo = dt.date.fromisoformat(first.strip())
            hi = dt.date.fromisoformat(last.strip()) if last else lo
        except ValueError:
            raise UsageError(f"{source}: {text!r} is not a date or YYYY-MM-DD..YYYY-MM-DD range",
                             "fix that entry") from None
        if hi < lo:
            raise UsageError(f"{source}: range {text!r} ends before it starts", "swap its ends")
        while lo <= hi:
            out.add(lo)
            lo += dt.timedelta(days=1)
    return frozenset(out)


def _time(text: str, source: str) -> dt.time:
    try:
        return dt.time.fromisoformat(str(text))
    except ValueError:
        raise UsageError(f"{source}: {text!r} is not a time of day (HH:MM)", "fix it") from None


def parse_calendar(data: dict, source: str) -> Calendar:
    try:
        tz = ZoneInfo(data.get("timezone", "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"{source}: unknown timezone {data.get('timezone')!r}",
                         "use an IANA name such as Asia/Shanghai") from None
    days = data.get("working_days", list(DAYS[:5]))
    unknown = [d for d in days if str(d).lower()[:3] not in DAYS]
    if unknown:
        raise UsageError(f"{source}: unknown working days {unknown}", f"use {', '.join(DAYS)}")
    hours = []
    for pair in data.get("working_hours", [["09:00", "18:00"]]):
        lo, hi = _time(pair[0], source), _time(pair[1], source)
        if hi <= lo:
            raise UsageError(f"{source}: working hours {pair} end before they start",
                             "give [start, end] with start < end")
        hours.append((lo, hi))
    hours.sort()
    for (_, end), (start, _) in itertools.pairwise(hours):
        if start < end:
            raise UsageError(f"{source}: working hours overlap", "make the intervals disjoint")
    return Calendar(
        name=str(data.get("name", source)), tz=tz,
        working_days=frozenset(DAYS.index(str(d).lower()[:3]) for d in days),
        hours=tuple(hours), holidays=_dates(data.get("holidays"), source),
        extra_working_days=_dates(data.get("extra_working_days"), source),
    )


@cache
def load_calendar(ref: str = "cn") -> Calendar:
    """A built-in calendar by name (``cn``) or a YAML file by path."""
    path = BUILTIN / f"{ref}.yml" if "/" not in ref and not ref.endswith(".yml") else Path(ref)
    try:
        data = yaml.safe_load(path.expanduser().read_text(encoding="utf-8")) or {}
    except OSError:
        raise UsageError(f"calendar {ref!r} not found",
                         "name a built-in calendar (cn) or the path of a calendar file") from None
    return parse_calendar(data, str(path))
