"""Continued-stay reassessment rules (Illinois 77 IAC 2060.423): every `reassessment_days`
at Level 2.x, at every level change (a reassessment that decided the new level, within
`level_change_reassessment_days` either side), beyond the typical length of stay, and before a
planned discharge."""

from __future__ import annotations

from datetime import date, timedelta

from domain.policy import ProgramPolicy
from projections.compliance.cadence import ONE_DAY, Finding, Mark, cadence_findings
from projections.compliance.scope import Scope
from projections.compliance.state import Entry, Episode, Stay


def reassessment_rules(scope: Scope, episode: Episode) -> list[Finding]:
    entries = scope.entries(episode, "reassessment")
    marks = [scope.mark(e.occurred_at, e.event_id) for e in entries]
    until = scope.until(episode)
    return [
        *periodic(scope, episode, marks, until),
        *level_changes(scope, episode, entries),
        *length_of_stay(scope, episode, marks, until),
        *before_discharge(scope, episode, marks),
    ]


def periodic(scope: Scope, episode: Episode, marks: list[Mark], until: date) -> list[Finding]:
    """Every `reassessment_days` through each unbroken run of stays at Level 2.x."""

    def needs(stay: Stay) -> bool:
        return scope.policy(stay.started_at).needs_periodic_reassessment(stay.level)

    findings: list[Finding] = []
    for run in scope.runs(episode, needs):
        start = run[0]
        run_end = scope.ended(run[-1].ended_at)
        run_until = until if run_end is None else min(until, scope.day(run_end))
        anchor = scope.mark(start.started_at, start.event_id)
        within = [
            r for r in marks if r.at >= start.started_at and (run_end is None or r.at < run_end)
        ]
        after = [] if run_end is None else [r for r in marks if r.at >= run_end]
        findings += cadence_findings(
            "reassessment_due",
            episode=episode.number,
            anchor=anchor,
            first_due=anchor.day + scope.days(anchor, "reassessment_days"),
            satisfiers=within,
            interval_days=scope.interval("reassessment_days"),
            until=run_until,
            late=after[:1],
        )
    return findings


def level_changes(scope: Scope, episode: Episode, entries: list[Entry]) -> list[Finding]:
    """Each level change needs a reassessment that decided the new level, dated within the
    window either side of the change (one deciding another level does not answer it)."""
    findings: list[Finding] = []
    for stay in scope.stays(episode):
        if stay.entered_by == "admitted":
            continue
        change = scope.mark(stay.started_at, stay.event_id)
        window = scope.days(change, "level_change_reassessment_days")
        due = change.day + window
        answers = [
            scope.mark(e.occurred_at, e.event_id)
            for e in entries
            if e.level is not None and float(e.level) == float(stay.level)
        ]
        answer = next((r for r in answers if r.day >= change.day - window), None)
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
        elif due < scope.until(episode):
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


def length_of_stay(scope: Scope, episode: Episode, marks: list[Mark], until: date) -> list[Finding]:
    """Beyond `length_of_stay_weeks` of days at the policy's levels (IOP by default, summed
    over the episode; residential days do not count), a reassessment within the last
    `length_of_stay_reassessment_days` at all times."""
    admission = scope.mark(episode.admitted_at, episode.event_id)
    policy = scope.policy(admission.at)
    reached = _typical_stay_reached(scope, episode, policy)
    if reached is None or until <= reached:
        return []
    recent = timedelta(days=policy.length_of_stay_reassessment_days)
    before = [r for r in marks if r.day <= reached]
    after = [r for r in marks if r.day > reached]
    if before and before[-1].day + recent >= reached:
        anchor, first_due = before[-1], before[-1].day + recent
    else:
        anchor, first_due = admission, reached
    return cadence_findings(
        "length_of_stay",
        episode=episode.number,
        anchor=anchor,
        first_due=first_due,
        satisfiers=after,
        interval_days=scope.interval("length_of_stay_reassessment_days"),
        until=until,
    )


def _typical_stay_reached(scope: Scope, episode: Episode, policy: ProgramPolicy) -> date | None:
    """The local day the episode's time at the counted levels reaches the typical stay."""
    remaining = timedelta(weeks=policy.length_of_stay_weeks)
    for stay in scope.stays(episode):
        if stay.level not in policy.length_of_stay_levels:
            continue
        end = scope.ended(stay.ended_at) or scope.cutoff
        spent = max(end - stay.started_at, timedelta(0))
        if spent >= remaining:
            return scope.day(stay.started_at + remaining)
        remaining -= spent
    return None


def before_discharge(scope: Scope, episode: Episode, marks: list[Mark]) -> list[Finding]:
    """A planned discharge (a reason the policy names planned, or a level referred to) needs a
    reassessment within `discharge_reassessment_days` before it. Like every late entry, a
    reassessment done in time but documented after the discharge answers it."""
    discharged_at = scope.episode_end(episode)
    if discharged_at is None or episode.discharge_event_id is None:
        return []
    policy = scope.policy(discharged_at)
    planned = (
        episode.discharge_reason in policy.planned_discharge_reasons
        or episode.discharge_to_level is not None
    )
    if not planned:
        return []
    day = scope.day(discharged_at)
    earliest = day - timedelta(days=policy.discharge_reassessment_days)
    in_time = [r for r in marks if earliest <= r.day and r.at <= discharged_at]
    if in_time:
        return []
    return [
        Finding(
            "discharge_reassessment",
            "open",
            episode.number,
            day,
            (episode.discharge_event_id,),
            due=day,
        )
    ]
