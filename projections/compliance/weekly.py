"""Weekly structured hours at each level with a minimum, and the taper.

A stay at a level covers a calendar week when its local start date is on or before that
Monday and its end date (if any) on or after that Sunday; only covered weeks are judged against
the level's minimum (ASAM Criteria: IOP 9 hours a week for adults, 6 for adolescents, PHP 20;
Virginia 12VAC30-130-5090). Sessions count under the level the participant was at when they
happened, so a week with sessions at two levels gives one row per level. The week holding
"as of" is `in_progress` until its Sunday is over.

Taper (Aetna's ASAM level-of-care policy): hours may fall below the minimum while a
participant moves down out of a level, once the decision to move down is documented: a week
at level L is `taper` only when a reassessment at L decided a lower level before the week
began, no later reassessment decided L or higher, and the week is among the first
`taper_weeks` covered weeks after that decision. The weeks after entering L are judged
normally: a short first week after residential care is `below_minimum`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from projections.compliance.cadence import Finding
from projections.compliance.scope import Scope
from projections.compliance.state import Entry, Episode, Stay
from projections.time_index import TimeIndex
from projections.weeks import WEEK, week_starts

SUNDAY = timedelta(days=6)


@dataclass(frozen=True)
class WeekRow:
    week_start: date
    level: str
    structured_minutes: int
    required_hours: float
    status: str  # met | below_minimum | partial_week | taper | in_progress
    episode: int
    evidence: tuple[str, ...]  # the stay's opening event, then the sessions counted

    @property
    def structured_hours(self) -> float:
        return round(self.structured_minutes / 60, 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "week_start": self.week_start.isoformat(),
            "level": self.level,
            "structured_hours": self.structured_hours,
            "structured_minutes": self.structured_minutes,
            "required_hours": self.required_hours,
            "status": self.status,
            "episode": self.episode,
            "evidence": list(self.evidence),
        }


def weeks(scope: Scope, episode: Episode) -> list[WeekRow]:
    """Every week of every stay at a level with a minimum, in the episode, as of the cut-off."""
    sessions = TimeIndex([e for e in scope.entries(episode, "session") if e.attended])
    decisions = scope.entries(episode, "reassessment")
    rows: list[WeekRow] = []
    for stay in scope.stays(episode):
        rows.extend(_stay_weeks(scope, stay, episode, sessions, decisions))
    return rows


def _stay_weeks(
    scope: Scope,
    stay: Stay,
    episode: Episode,
    sessions: TimeIndex[Entry],
    decisions: list[Entry],
) -> list[WeekRow]:
    stay_end = scope.ended(stay.ended_at)
    if stay_end is not None and stay_end <= stay.started_at:
        return []
    first_day = scope.day(stay.started_at)
    end_day = None if stay_end is None else scope.day(stay_end)
    last_day = scope.as_of if stay_end is None else scope.day(stay_end - timedelta(microseconds=1))
    rows: list[WeekRow] = []
    covered: list[datetime] = []  # the start of every covered week so far
    for monday in week_starts(first_day, last_day):
        week_from, week_to = scope.week_bounds(monday)
        policy = scope.policy(max(week_from, stay.started_at))
        required = policy.required_hours(stay.level, episode.age_group)
        if required is None:
            continue
        counted = [
            s
            for s in sessions.between(
                max(week_from, stay.started_at), min(week_to, stay_end or week_to)
            )
            if policy.counts_as_structured(s.service or "")
        ]
        minutes = sum(s.minutes for s in counted)
        covers = first_day <= monday and (end_day is None or end_day >= monday + SUNDAY)
        if covers:
            covered.append(week_from)
        if not covers:
            status = "partial_week"
        elif scope.as_of < monday + SUNDAY:
            status = "in_progress"
        elif minutes >= required * 60:
            status = "met"
        elif _tapering(stay, decisions, week_from, covered, policy.taper_weeks):
            status = "taper"
        else:
            status = "below_minimum"
        evidence = (stay.event_id, *(s.event_id for s in counted))
        rows.append(
            WeekRow(monday, stay.level, minutes, required, status, episode.number, evidence)
        )
    return rows


def _tapering(
    stay: Stay,
    decisions: list[Entry],
    week_from: datetime,
    covered: list[datetime],
    taper_weeks: int,
) -> bool:
    """Whether a documented decision to move down out of the stay's level allows this covered
    week (the last of `covered`) to fall short."""
    decided = _decision_to_move_down(stay, decisions, week_from)
    if decided is None:
        return False
    after = [start for start in covered if start > decided]
    return 0 < len(after) <= taper_weeks


def _decision_to_move_down(stay: Stay, decisions: list[Entry], before: datetime) -> datetime | None:
    """When the standing decision to move down out of the stay's level was made, if one stands
    at `before`: the first reassessment at this level deciding lower since the last one that
    decided this level or higher (which cancels it)."""
    level = float(stay.level)
    since: datetime | None = None
    for reassessment in decisions:
        at = reassessment.occurred_at
        if at < stay.started_at or at >= before:
            continue
        if stay.ended_at is not None and at >= stay.ended_at:
            continue
        if reassessment.level is not None and float(reassessment.level) < level:
            since = since or at
        else:
            since = None
    return since


def weekly_hours_findings(rows: list[WeekRow]) -> list[Finding]:
    """An open finding for every covered week below its minimum (and out of any taper)."""
    return [
        Finding(
            "weekly_hours", "open", w.episode, w.week_start + WEEK, w.evidence, period=w.week_start
        )
        for w in rows
        if w.status == "below_minimum"
    ]
