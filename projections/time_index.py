"""Entries found by time window."""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime
from typing import Generic, Protocol, TypeVar


class Timed(Protocol):
    @property
    def occurred_at(self) -> datetime: ...


T = TypeVar("T", bound=Timed)


class TimeIndex(Generic[T]):
    """Entries found by time window in O(log n), listed in their original order.

    A compliance report scans every week of a stay for its sessions: with a scan per week, a
    500-session participant cost ~35k comparisons per report and was 40% of the compliance
    read's CPU (py-spy, 16 clients, see docs/performance.md); a sorted index makes it per-week
    binary searches.
    """

    def __init__(self, entries: list[T]) -> None:
        self.entries = entries
        self.order = sorted(range(len(entries)), key=lambda i: entries[i].occurred_at)
        self.times = [entries[i].occurred_at for i in self.order]

    def between(self, start: datetime, end: datetime) -> list[T]:
        """Entries with start <= occurred_at < end, in the order they were given."""
        found = self.order[bisect_left(self.times, start) : bisect_left(self.times, end)]
        return [self.entries[i] for i in sorted(found)]
