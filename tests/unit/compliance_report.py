"""Shared helpers for the compliance fold tests: fold a journey and pick rows and findings."""

from __future__ import annotations

from datetime import date, timedelta

from domain.policy import DEFAULT_POLICY, PolicyTimeline, ProgramPolicy
from projections import compliance
from projections.compliance import ComplianceReport, Finding, WeekRow
from tests.unit.journey import Journey

# 2026-02-02 is a Monday; admissions on the Wednesday before leave the week of 02-02 whole.
MON = date(2026, 2, 2)
WED_BEFORE = date(2026, 1, 28)


def report(
    journey: Journey, as_of: date, policy: ProgramPolicy | PolicyTimeline = DEFAULT_POLICY
) -> ComplianceReport:
    state = compliance.fold(journey.events)
    assert state is not None
    return compliance.evaluate(state, as_of, policy)


def week(result: ComplianceReport, monday: date, level: str | None = None) -> WeekRow:
    rows = [w for w in result.weeks if w.week_start == monday and level in (None, w.level)]
    assert len(rows) == 1, rows
    return rows[0]


def findings(result: ComplianceReport, rule: str) -> list[Finding]:
    return [f for f in result.findings if f.rule == rule]


def day(offset: int, start: date = MON) -> date:
    return start + timedelta(days=offset)
