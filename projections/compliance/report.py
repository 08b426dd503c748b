"""Compliance read model: weekly structured hours and the rules on services and records.

`fold(events)` collects one participant's facts (projections/compliance/state.py);
`evaluate(state, as_of, policy)` judges them as of the end of a local day, which stands for
"now": the clock is never read. Only facts that occurred by then count, so a report for a
past date reads as it would have then (given the same events).

Findings belong to an episode. When the episode ends (discharge), the findings still open
become `unresolved_at_discharge`: shown to auditors, no longer counted as open work. The
rules about the discharge itself (a reassessment before it, a summary after it) stay open
until answered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from domain.policy import DEFAULT_POLICY, PolicyTimeline, ProgramPolicy
from projections.compliance.cadence import ONE_DAY, Finding
from projections.compliance.reassessments import reassessment_rules
from projections.compliance.scope import Scope
from projections.compliance.services import service_rules
from projections.compliance.state import ComplianceState, Episode
from projections.compliance.weekly import WeekRow, weekly_hours_findings, weeks

UNRESOLVED_AT_DISCHARGE = "unresolved_at_discharge"
# Rules about the discharge itself: they arise at or after it, so it cannot leave them behind.
DISCHARGE_RULES = frozenset({"discharge_reassessment", "discharge_summary"})


@dataclass(frozen=True)
class ComplianceReport:
    participant_id: str
    as_of: date
    weeks: tuple[WeekRow, ...]
    findings: tuple[Finding, ...]
    timezone: str = "UTC"  # the zone the days and weeks were counted in

    @property
    def open_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.is_open)

    def to_dict(self) -> dict[str, Any]:
        return {
            "participant_id": self.participant_id,
            "as_of": self.as_of.isoformat(),
            "timezone": self.timezone,
            "weeks": [w.to_dict() for w in self.weeks],
            "findings": [f.to_dict() for f in self.findings],
        }


def evaluate(
    state: ComplianceState,
    as_of: date | datetime,
    policy: ProgramPolicy | PolicyTimeline = DEFAULT_POLICY,
) -> ComplianceReport:
    """The participant's weeks and findings as of the end of local day `as_of` (a moment:
    the local day it falls on, in the program's zone)."""
    scope = Scope(state, as_of, PolicyTimeline.of(policy))
    rows: list[WeekRow] = []
    findings: list[Finding] = []
    for episode in state.episodes:
        if episode.admitted_at >= scope.cutoff:
            continue
        episode_weeks = weeks(scope, episode)
        rows.extend(episode_weeks)
        episode_findings = [
            *weekly_hours_findings(episode_weeks),
            *service_rules(scope, episode),
            *reassessment_rules(scope, episode),
            *discharge_summary(scope, episode),
        ]
        if scope.episode_end(episode) is not None:
            episode_findings = [_left_at_discharge(f) for f in episode_findings]
        findings.extend(episode_findings)
    rows.sort(key=lambda w: (w.week_start, w.episode))
    findings.sort(key=lambda f: (f.opened_on, f.rule, f.evidence))
    return ComplianceReport(
        state.participant_id, scope.as_of, tuple(rows), tuple(findings), scope.timezone
    )


def _left_at_discharge(finding: Finding) -> Finding:
    if finding.status != "open" or finding.rule in DISCHARGE_RULES:
        return finding
    return replace(finding, status=UNRESOLVED_AT_DISCHARGE)


def discharge_summary(scope: Scope, episode: Episode) -> list[Finding]:
    """Illinois 77 IAC 2060.480: a discharge summary within `discharge_summary_days` after
    the discharge; one completed later resolves the finding."""
    discharged_at = scope.episode_end(episode)
    if discharged_at is None or episode.discharge_event_id is None:
        return []
    day = scope.day(discharged_at)
    due = day + ONE_DAY * scope.policy(discharged_at).discharge_summary_days
    following = [e for e in scope.state.episodes if e.admitted_at > discharged_at]
    until = min([e.admitted_at for e in following] + [scope.cutoff])
    summaries = [
        e
        for e in scope.state.live_entries("discharge_summary")
        if discharged_at <= e.occurred_at < until
    ]
    evidence = (episode.discharge_event_id,)
    if summaries:
        first = scope.mark(summaries[0].occurred_at, summaries[0].event_id)
        if first.day <= due:
            return []
        return [
            Finding(
                "discharge_summary",
                "resolved",
                episode.number,
                due + ONE_DAY,
                (*evidence, first.event_id),
                due=due,
                resolved_on=first.day,
            )
        ]
    if scope.as_of <= due:
        return []
    return [Finding("discharge_summary", "open", episode.number, due + ONE_DAY, evidence, due=due)]
