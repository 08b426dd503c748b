"""Findings and the one shape most rules share: "something must happen every N days".

Dates are local calendar days. A due date is met by a satisfying entry on or before it; the
finding opens the day after (`opened_on`), and a later satisfying entry resolves it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Mark:
    """A dated fact a rule looks at: an admission, a session, a screen, a reassessment."""

    at: datetime
    day: date
    event_id: str


@dataclass(frozen=True)
class Finding:
    rule: str
    status: str  # open | resolved | unresolved_at_discharge
    episode: int
    opened_on: date
    evidence: tuple[str, ...]
    due: date | None = None
    period: date | None = None  # the Monday of the week a weekly rule judged
    resolved_on: date | None = None
    overdue: bool = True  # the due date passed before it was met (false only while pending)

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "status": self.status,
            "due": _iso(self.due),
            "period": _iso(self.period),
            "evidence": list(self.evidence),
            "episode": self.episode,
            "opened_on": self.opened_on.isoformat(),
            "resolved_on": _iso(self.resolved_on),
            "overdue": self.overdue,
        }


def cadence_findings(
    rule: str,
    *,
    episode: int,
    anchor: Mark,
    first_due: date,
    satisfiers: Sequence[Mark],
    interval_days: Callable[[Mark], int],
    until: date,
    late: Sequence[Mark] = (),
    noted: Sequence[Mark] = (),
) -> list[Finding]:
    """Findings for every gap where the next satisfier came after its due date.

    `satisfiers` are the entries that restart the clock (sorted, none before `anchor`), each
    setting the next due date `interval_days(mark)` later. A due date before `until` (the
    end of the judged stretch: the as-of date, a discharge, a level change) with nothing on
    time is a finding, resolved by the next satisfier, or by the first of `late` (entries
    after the stretch that still answer it). `noted` entries (e.g. a refused screen) falling
    in a gap are added to its evidence without restarting the clock.
    """
    findings: list[Finding] = []
    current, due = anchor, first_due
    for mark in satisfiers:
        if mark.day > due:
            findings.append(
                _finding(rule, episode, current, due, mark, _between(noted, current, mark))
            )
        current, due = mark, mark.day + timedelta(days=interval_days(mark))
    if due < until:
        resolver = late[0] if late else None
        findings.append(
            _finding(rule, episode, current, due, resolver, _between(noted, current, resolver))
        )
    return findings


def _finding(
    rule: str,
    episode: int,
    since: Mark,
    due: date,
    resolver: Mark | None,
    noted: Sequence[Mark],
) -> Finding:
    evidence = (since.event_id, *(m.event_id for m in noted))
    if resolver is None:
        return Finding(rule, "open", episode, due + ONE_DAY, evidence, due=due)
    return Finding(
        rule,
        "resolved",
        episode,
        due + ONE_DAY,
        (*evidence, resolver.event_id),
        due=due,
        resolved_on=resolver.day,
    )


def _between(marks: Sequence[Mark], after: Mark, before: Mark | None) -> list[Mark]:
    return [m for m in marks if m.at > after.at and (before is None or m.at < before.at)]


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
