"""Calendar helpers: local dates, Monday-Sunday weeks, and their boundaries as instants."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEK = timedelta(days=7)


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    # "UTC" needs no tz database, so the default works on a machine without tzdata.
    return UTC if name == "UTC" else ZoneInfo(name)


def local_date(moment: datetime, timezone_name: str) -> date:
    """The calendar day `moment` falls on in the program's time zone."""
    return moment.astimezone(zone(timezone_name)).date()


def start_of_day(day: date, timezone_name: str) -> datetime:
    """The instant `day` begins in the program's time zone."""
    return datetime.combine(day, time.min, tzinfo=zone(timezone_name))


def week_start(day: date) -> date:
    """The Monday of the calendar week holding `day`."""
    return day - timedelta(days=day.weekday())


def week_starts(first: date, last: date) -> Iterator[date]:
    """The Mondays of every calendar week that overlaps `first`..`last` (both included)."""
    monday = week_start(first)
    while monday <= last:
        yield monday
        monday += WEEK
