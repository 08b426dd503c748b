"""The rules on services and records kept through an episode: attendance, individual
therapy and drug screening cadence, follow-up of an unexpected positive screen, and
Medicare recertification.

A cadence finding exists only once its due date has passed; an unexpected positive screen
opens its follow-up finding at once (overdue once the days pass). A late satisfying entry
resolves a finding, with `overdue` left true so lateness stays visible. Each gap is timed by
the policy in force at the entry that started it.
"""

from __future__ import annotations

from datetime import date as date_type
from datetime import timedelta

from domain.values import ScreeningOutcome
from projections.compliance.cadence import Finding, Mark, cadence_findings
from projections.compliance.scope import Scope
from projections.compliance.state import Entry, Episode, Stay

VALID_SCREEN_OUTCOMES = frozenset(
    {
        ScreeningOutcome.NEGATIVE.value,
        ScreeningOutcome.EXPECTED_POSITIVE.value,
        ScreeningOutcome.UNEXPECTED_POSITIVE.value,
    }
)


def service_rules(scope: Scope, episode: Episode) -> list[Finding]:
    admission = scope.mark(episode.admitted_at, episode.event_id)
    until = scope.until(episode)
    attended = [e for e in scope.entries(episode, "session") if e.attended]
    screens = scope.entries(episode, "screening")
    reassessments = [
        scope.mark(e.occurred_at, e.event_id) for e in scope.entries(episode, "reassessment")
    ]
    individual = cadence_findings(
        "individual_therapy_cadence",
        episode=episode.number,
        anchor=admission,
        first_due=admission.day + scope.days(admission, "individual_therapy_days"),
        satisfiers=[
            scope.mark(e.occurred_at, e.event_id) for e in attended if e.service == "individual"
        ],
        interval_days=scope.interval("individual_therapy_days"),
        until=until,
    )
    return [
        *attendance_gaps(scope, episode, attended, until),
        *individual,
        *screening_cadence(scope, episode, admission, screens, until),
        *positive_screen_followups(scope, episode, screens, reassessments),
        *recertifications(scope, episode, admission, until),
    ]


def attendance_gaps(
    scope: Scope, episode: Episode, attended: list[Entry], until: date_type
) -> list[Finding]:
    """No attended structured session for `attendance_gap_days` while at a level with a
    weekly minimum (a dropout risk: only the services that count as structured hours)."""

    def has_minimum(stay: Stay) -> bool:
        policy = scope.policy(stay.started_at)
        return policy.required_hours(stay.level, episode.age_group) is not None

    structured = [
        scope.mark(e.occurred_at, e.event_id)
        for e in attended
        if scope.policy(e.occurred_at).counts_as_structured(e.service or "")
    ]
    findings: list[Finding] = []
    for run in scope.runs(episode, has_minimum):
        start, run_end = run[0], scope.ended(run[-1].ended_at)
        anchor = scope.mark(start.started_at, start.event_id)
        run_until = until if run_end is None else min(until, scope.day(run_end))
        within = [
            m
            for m in structured
            if m.at >= start.started_at and (run_end is None or m.at < run_end)
        ]
        findings += cadence_findings(
            "attendance_gap",
            episode=episode.number,
            anchor=anchor,
            first_due=anchor.day + scope.days(anchor, "attendance_gap_days"),
            satisfiers=within,
            interval_days=scope.interval("attendance_gap_days"),
            until=run_until,
        )
    return findings


def screening_cadence(
    scope: Scope, episode: Episode, admission: Mark, screens: list[Entry], until: date_type
) -> list[Finding]:
    """ASAM Drug Testing Consensus (2017): weekly in the first 90 days, then monthly. Only a
    valid specimen restarts the clock; dilute, adulterated, refused and missed specimens are
    results of their own, never negatives, and are kept as the finding's evidence."""

    def interval(mark: Mark) -> int:
        return scope.policy(mark.at).screening_interval_days((mark.day - admission.day).days)

    valid = [s for s in screens if s.outcome in VALID_SCREEN_OUTCOMES]
    invalid = [s for s in screens if s.outcome not in VALID_SCREEN_OUTCOMES]
    return cadence_findings(
        "screening_cadence",
        episode=episode.number,
        anchor=admission,
        first_due=admission.day + timedelta(days=interval(admission)),
        satisfiers=[scope.mark(s.occurred_at, s.event_id) for s in valid],
        interval_days=interval,
        until=until,
        noted=[scope.mark(s.occurred_at, s.event_id) for s in invalid],
    )


def positive_screen_followups(
    scope: Scope, episode: Episode, screens: list[Entry], reassessments: list[Mark]
) -> list[Finding]:
    """A reassessment within `positive_screen_followup_days` of an unexpected positive; a
    positive that only prescriptions active on the collection day explain is expected."""
    findings: list[Finding] = []
    for screen in screens:
        positive = scope.mark(screen.occurred_at, screen.event_id)
        policy = scope.policy(screen.occurred_at)
        outcome = scope.state.outcome_of(screen, policy.analytes_of, positive.day)
        if outcome != ScreeningOutcome.UNEXPECTED_POSITIVE.value:
            continue
        due = positive.day + scope.days(positive, "positive_screen_followup_days")
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
                    overdue=scope.as_of > due,
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


def recertifications(
    scope: Scope, episode: Episode, admission: Mark, until: date_type
) -> list[Finding]:
    """Medicare IOP (42 CFR 424.24(d), CY 2024 OPPS final rule): a physician recertifies the
    need for IOP every `recertification_days` from admission. Off unless the policy in force
    as of the report sets it (a program that starts billing Medicare has its stays judged)."""
    current = scope.policy(scope.cutoff - timedelta(microseconds=1)).recertification_days
    if current is None:
        return []

    def interval(mark: Mark) -> int:
        days = scope.policy(mark.at).recertification_days
        return current if days is None else days

    certified = [
        scope.mark(e.occurred_at, e.event_id) for e in scope.entries(episode, "recertification")
    ]
    return cadence_findings(
        "recertification",
        episode=episode.number,
        anchor=admission,
        first_due=admission.day + timedelta(days=interval(admission)),
        satisfiers=certified,
        interval_days=interval,
        until=until,
    )
