"""Compliance read model: weekly structured hours and the cadence rules of DOMAIN.md.

`fold(events)` collects one participant's facts (projections/compliance_state.py);
`evaluate(state, as_of, policy)` judges them as of a date, which stands for "now": the clock
is never read. Only facts that occurred on or before `as_of` count, so a report for a past
date reads as it would have then (given the same events).

Choices the contract leaves open:
- A week is judged for each stay at a level with a minimum; a week split by an admission,
  level change or discharge gets one row per stay, each `partial_week`. The current,
  unfinished week is `partial_week` until its minimum is reached (then `met`).
- `taper`: a below-minimum week among the first `taper_weeks` full weeks of a stay opened by a
  SteppedDown (the documented step-down decision).
- Screens: only a `valid` specimen restarts the screening clock; dilute, adulterated, refused
  and missed specimens are not negatives and do not count, but appear in the finding's evidence.
- A cadence finding exists only once its due date has passed; an unexpected positive screen
  opens its follow-up finding at once (overdue once 7 days pass). A late satisfying entry
  resolves a finding, with `overdue` left true so lateness stays visible.
- A policy change applies from its effective moment: a week is judged by the policy in force
  when the week (or the stay, if later) began; a cadence gap by the policy in force at the
  entry that started it. Calendar days are counted in the latest policy's time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from domain.policy import DEFAULT_POLICY, PolicyTimeline, ProgramPolicy
from domain.values import ScreeningOutcome
from projections.cadence import ONE_DAY, Finding, Mark, cadence_findings
from projections.compliance_state import (
    ComplianceState,
    Entry,
    Episode,
    Stay,
    apply,
    fold,
    fold_all,
)
from projections.time_index import TimeIndex
from projections.weeks import WEEK, local_date, start_of_day, week_starts

__all__ = [
    "ComplianceReport",
    "ComplianceState",
    "Finding",
    "WeekRow",
    "apply",
    "evaluate",
    "fold",
    "fold_all",
]

VALID_SCREEN_OUTCOMES = frozenset(
    {
        ScreeningOutcome.NEGATIVE.value,
        ScreeningOutcome.EXPECTED_POSITIVE.value,
        ScreeningOutcome.UNEXPECTED_POSITIVE.value,
    }
)


@dataclass(frozen=True)
class WeekRow:
    week_start: date
    level: str
    structured_minutes: int
    required_hours: float
    status: str  # met | below_minimum | partial_week | taper
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
            "required_hours": self.required_hours,
            "status": self.status,
            "episode": self.episode,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class ComplianceReport:
    participant_id: str
    as_of: date
    weeks: tuple[WeekRow, ...]
    findings: tuple[Finding, ...]

    @property
    def open_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.is_open)

    def to_dict(self) -> dict[str, Any]:
        return {
            "participant_id": self.participant_id,
            "as_of": self.as_of.isoformat(),
            "weeks": [w.to_dict() for w in self.weeks],
            "findings": [f.to_dict() for f in self.findings],
        }


def evaluate(
    state: ComplianceState,
    as_of: date,
    policy: ProgramPolicy | PolicyTimeline = DEFAULT_POLICY,
) -> ComplianceReport:
    """The participant's weeks and findings as of the end of `as_of`."""
    judge = _Judge(state, as_of, PolicyTimeline.of(policy))
    weeks: list[WeekRow] = []
    findings: list[Finding] = []
    for episode in state.episodes:
        if episode.admitted_at >= judge.cutoff:
            continue
        episode_weeks = judge.weeks(episode)
        weeks.extend(episode_weeks)
        findings.extend(judge.weekly_hours_findings(episode_weeks))
        findings.extend(judge.cadence_rules(episode))
    weeks.sort(key=lambda w: (w.week_start, w.episode))
    findings.sort(key=lambda f: (f.opened_on, f.rule, f.evidence))
    return ComplianceReport(state.participant_id, as_of, tuple(weeks), tuple(findings))


Setting = Callable[[ProgramPolicy], int]


def _attendance_gap_days(p: ProgramPolicy) -> int:
    return p.attendance_gap_days


def _individual_therapy_days(p: ProgramPolicy) -> int:
    return p.individual_therapy_days


def _positive_screen_followup_days(p: ProgramPolicy) -> int:
    return p.positive_screen_followup_days


def _reassessment_days(p: ProgramPolicy) -> int:
    return p.reassessment_days


def _level_change_reassessment_days(p: ProgramPolicy) -> int:
    return p.level_change_reassessment_days


def _length_of_stay_reassessment_days(p: ProgramPolicy) -> int:
    return p.length_of_stay_reassessment_days


class _Judge:
    """Evaluation of one state as of one date; holds the cut-off and the calendar."""

    def __init__(self, state: ComplianceState, as_of: date, timeline: PolicyTimeline) -> None:
        self.state = state
        self.as_of = as_of
        self.timeline = timeline
        latest = timeline.changes[-1][1] if timeline.changes else timeline.initial
        self.tz = latest.timezone
        self.cutoff = start_of_day(as_of + ONE_DAY, self.tz)

    # ---- scoping -------------------------------------------------------------------------

    def day(self, moment: datetime) -> date:
        return local_date(moment, self.tz)

    def mark(self, moment: datetime, event_id: str) -> Mark:
        return Mark(moment, self.day(moment), event_id)

    def ended(self, moment: datetime | None) -> datetime | None:
        """`moment` if it happened by the cut-off, else None (still open as of `as_of`)."""
        return moment if moment is not None and moment < self.cutoff else None

    def episode_end(self, episode: Episode) -> datetime | None:
        return self.ended(episode.discharged_at)

    def until(self, episode: Episode) -> date:
        """The last day rules run to: the discharge day, or the as-of date while active."""
        end = self.episode_end(episode)
        return self.as_of if end is None else self.day(end)

    def entries(self, episode: Episode, kind: str) -> list[Entry]:
        """Live entries of `kind` within the episode and on or before `as_of`."""
        discharged = self.episode_end(episode)
        return [
            e
            for e in self.state.live_entries(kind)
            if episode.admitted_at <= e.occurred_at
            and (e.occurred_at < self.cutoff if discharged is None else e.occurred_at <= discharged)
        ]

    def stays(self, episode: Episode) -> list[Stay]:
        return [
            s
            for s in self.state.stays
            if s.episode == episode.number and s.started_at < self.cutoff
        ]

    # ---- weekly structured hours -----------------------------------------------------------

    def weeks(self, episode: Episode) -> list[WeekRow]:
        sessions = TimeIndex([e for e in self.entries(episode, "session") if e.attended])
        rows: list[WeekRow] = []
        for stay in self.stays(episode):
            rows.extend(self._stay_weeks(stay, episode, sessions))
        return rows

    def _stay_weeks(
        self, stay: Stay, episode: Episode, sessions: TimeIndex[Entry]
    ) -> list[WeekRow]:
        stay_end = self.ended(stay.ended_at)
        if stay_end is not None and stay_end <= stay.started_at:
            return []
        last_day = (
            self.as_of if stay_end is None else self.day(stay_end - timedelta(microseconds=1))
        )
        rows: list[WeekRow] = []
        full_weeks = 0
        for monday in week_starts(self.day(stay.started_at), last_day):
            week_from, week_to = start_of_day(monday, self.tz), start_of_day(monday + WEEK, self.tz)
            policy = self.timeline.at(max(week_from, stay.started_at))
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
            covers = stay.started_at <= week_from and (stay_end is None or stay_end >= week_to)
            over = self.as_of >= monday + WEEK
            if covers:
                full_weeks += 1
            if not covers:
                status = "partial_week"
            elif minutes >= required * 60:
                status = "met"
            elif not over:
                status = "partial_week"
            elif self._tapering(stay, policy) and full_weeks <= policy.taper_weeks:
                status = "taper"
            else:
                status = "below_minimum"
            evidence = (stay.event_id, *(s.event_id for s in counted))
            rows.append(
                WeekRow(monday, stay.level, minutes, required, status, episode.number, evidence)
            )
        return rows

    @staticmethod
    def _tapering(stay: Stay, policy: ProgramPolicy) -> bool:
        if stay.entered_by == "stepped_down":
            return True
        return policy.taper_after_step_down_admission and stay.pathway == "step_down"

    def weekly_hours_findings(self, weeks: list[WeekRow]) -> list[Finding]:
        return [
            Finding(
                "weekly_hours",
                "open",
                w.episode,
                w.week_start + WEEK,
                w.evidence,
                period=w.week_start,
            )
            for w in weeks
            if w.status == "below_minimum"
        ]

    # ---- cadence rules -------------------------------------------------------------------

    def cadence_rules(self, episode: Episode) -> list[Finding]:
        admission = self.mark(episode.admitted_at, episode.event_id)
        until = self.until(episode)
        attended = [e for e in self.entries(episode, "session") if e.attended]
        screens = self.entries(episode, "screening")
        reassessments = [
            self.mark(e.occurred_at, e.event_id) for e in self.entries(episode, "reassessment")
        ]

        attendance = cadence_findings(
            "attendance_gap",
            episode=episode.number,
            anchor=admission,
            first_due=admission.day + self._days(admission, _attendance_gap_days),
            satisfiers=[self.mark(e.occurred_at, e.event_id) for e in attended],
            interval_days=self._interval(_attendance_gap_days),
            until=until,
        )
        individual = cadence_findings(
            "individual_therapy_cadence",
            episode=episode.number,
            anchor=admission,
            first_due=admission.day + self._days(admission, _individual_therapy_days),
            satisfiers=[
                self.mark(e.occurred_at, e.event_id) for e in attended if e.service == "individual"
            ],
            interval_days=self._interval(_individual_therapy_days),
            until=until,
        )
        findings = attendance + individual
        findings += self._screening_cadence(episode, admission, screens, until)
        findings += self._positive_screen_followups(episode, screens, reassessments)
        findings += self._periodic_reassessments(episode, reassessments, until)
        findings += self._level_change_reassessments(episode, reassessments, until)
        findings += self._length_of_stay(episode, admission, reassessments, until)
        return findings

    def _days(self, mark: Mark, setting: Setting) -> timedelta:
        """A number of days from the policy in force at `mark`."""
        return timedelta(days=setting(self.timeline.at(mark.at)))

    def _interval(self, setting: Setting) -> Callable[[Mark], int]:
        return lambda mark: setting(self.timeline.at(mark.at))

    def _screening_cadence(
        self, episode: Episode, admission: Mark, screens: list[Entry], until: date
    ) -> list[Finding]:
        def interval(mark: Mark) -> int:
            return self.timeline.at(mark.at).screening_interval_days(
                (mark.day - admission.day).days
            )

        valid = [s for s in screens if s.outcome in VALID_SCREEN_OUTCOMES]
        invalid = [s for s in screens if s.outcome not in VALID_SCREEN_OUTCOMES]
        return cadence_findings(
            "screening_cadence",
            episode=episode.number,
            anchor=admission,
            first_due=admission.day + timedelta(days=interval(admission)),
            satisfiers=[self.mark(s.occurred_at, s.event_id) for s in valid],
            interval_days=interval,
            until=until,
            noted=[self.mark(s.occurred_at, s.event_id) for s in invalid],
        )

    def _positive_screen_followups(
        self, episode: Episode, screens: list[Entry], reassessments: list[Mark]
    ) -> list[Finding]:
        findings: list[Finding] = []
        for screen in screens:
            if screen.outcome != ScreeningOutcome.UNEXPECTED_POSITIVE.value:
                continue
            positive = self.mark(screen.occurred_at, screen.event_id)
            due = positive.day + self._days(positive, _positive_screen_followup_days)
            followup = next((r for r in reassessments if r.at >= positive.at), None)
            if followup is None:
                findings.append(
                    Finding(
                        "positive_screen_followup",
                        "open",
                        episode.number,
                        positive.day,
                        (positive.event_id,),
                        due=due,
                        overdue=self.as_of > due,
                    )
                )
            else:
                findings.append(
                    Finding(
                        "positive_screen_followup",
                        "resolved",
                        episode.number,
                        positive.day,
                        (positive.event_id, followup.event_id),
                        due=due,
                        resolved_on=followup.day,
                        overdue=followup.day > due,
                    )
                )
        return findings

    def _periodic_reassessments(
        self, episode: Episode, reassessments: list[Mark], until: date
    ) -> list[Finding]:
        """Every `reassessment_days` through each unbroken run of stays at Level 2.x."""
        findings: list[Finding] = []
        for run in self._runs_needing_reassessment(episode):
            start = run[0]
            run_end = self.ended(run[-1].ended_at)
            run_until = until if run_end is None else min(until, self.day(run_end))
            anchor = self.mark(start.started_at, start.event_id)
            within = [
                r
                for r in reassessments
                if r.at >= start.started_at and (run_end is None or r.at < run_end)
            ]
            after = [] if run_end is None else [r for r in reassessments if r.at >= run_end]
            findings += cadence_findings(
                "reassessment_due",
                episode=episode.number,
                anchor=anchor,
                first_due=anchor.day + self._days(anchor, _reassessment_days),
                satisfiers=within,
                interval_days=self._interval(_reassessment_days),
                until=run_until,
                late=after[:1],
            )
        return findings

    def _runs_needing_reassessment(self, episode: Episode) -> list[list[Stay]]:
        runs: list[list[Stay]] = []
        previous_needed = False
        for stay in self.stays(episode):
            needed = self.timeline.at(stay.started_at).needs_periodic_reassessment(stay.level)
            if needed and previous_needed:
                runs[-1].append(stay)
            elif needed:
                runs.append([stay])
            previous_needed = needed
        return runs

    def _level_change_reassessments(
        self, episode: Episode, reassessments: list[Mark], until: date
    ) -> list[Finding]:
        """A reassessment within `level_change_reassessment_days` either side of each change."""
        findings: list[Finding] = []
        for stay in self.stays(episode):
            if stay.entered_by == "admitted":
                continue
            change = self.mark(stay.started_at, stay.event_id)
            window = self._days(change, _level_change_reassessment_days)
            due = change.day + window
            answer = next((r for r in reassessments if r.day >= change.day - window), None)
            if answer is not None and answer.day <= due:
                continue
            if answer is not None:
                findings.append(
                    Finding(
                        "reassessment_due",
                        "resolved",
                        episode.number,
                        due + ONE_DAY,
                        (change.event_id, answer.event_id),
                        due=due,
                        resolved_on=answer.day,
                    )
                )
            elif due < until:
                findings.append(
                    Finding(
                        "reassessment_due",
                        "open",
                        episode.number,
                        due + ONE_DAY,
                        (change.event_id,),
                        due=due,
                    )
                )
        return findings

    def _length_of_stay(
        self, episode: Episode, admission: Mark, reassessments: list[Mark], until: date
    ) -> list[Finding]:
        """Beyond `length_of_stay_weeks`, a reassessment within the last N days at all times."""
        policy = self.timeline.at(admission.at)
        threshold = admission.day + timedelta(weeks=policy.length_of_stay_weeks)
        if until <= threshold:
            return []
        recent = timedelta(days=policy.length_of_stay_reassessment_days)
        before = [r for r in reassessments if r.day <= threshold]
        after = [r for r in reassessments if r.day > threshold]
        if before and before[-1].day + recent >= threshold:
            anchor, first_due = before[-1], before[-1].day + recent
        else:
            anchor, first_due = admission, threshold
        return cadence_findings(
            "length_of_stay",
            episode=episode.number,
            anchor=anchor,
            first_due=first_due,
            satisfiers=after,
            interval_days=self._interval(_length_of_stay_reassessment_days),
            until=until,
        )
