"""Bounds on the work a query parameter can ask for.

A read's cost grows with the dates it spans (compliance judges every week up to `as_of`; the
caseload does so for every participant), so a date far in the future once kept a worker busy
for minutes and an `as_of` of 9999-12-31 overflowed into a 500. Dates and times a query takes
are therefore kept within a plausible window, from 1900-01-01 (no record in treatment today
began earlier) to a year after today (a "what will be due" question looks months ahead, not
centuries), and refused with 422 naming the parameter otherwise. Positions and list sizes
have caps of their own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator

from api.schemas.participants import EARLIEST_YEAR, Instant

EARLIEST_DAY = date(EARLIEST_YEAR, 1, 1)
# How far past today a query may look.
HORIZON = timedelta(days=366)
# Log positions and cursors fit PostgreSQL's bigint.
MAX_POSITION = 2**62
# The most participants one caseload read evaluates: a program larger than this is read by
# level or status (a 10,000-row caseload already takes seconds to judge on this hardware).
MAX_CASELOAD_ROWS = 10_000


def latest_day() -> date:
    return datetime.now(UTC).date() + HORIZON


def _plausible_day(value: date) -> date:
    if not EARLIEST_DAY <= value <= latest_day():
        raise ValueError(f"must be between {EARLIEST_DAY} and {latest_day()} (a year from today)")
    return value


def _plausible_instant(value: datetime) -> datetime:
    _plausible_day(value.astimezone(UTC).date())
    return value


# A `date` query parameter within the plausible window.
QueryDate = Annotated[date, AfterValidator(_plausible_day)]
# A date-time query parameter (ISO 8601 with offset) within the plausible window.
QueryInstant = Annotated[Instant, AfterValidator(_plausible_instant)]
