"""The caseload page's rows: one line per active participant, sortable by any column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from api.pages.model import RULE_LABELS, level_name, short_id, weekly_totals
from projections.caseload import CaseloadRow
from projections.compliance import ComplianceReport
from projections.weeks import week_start


@dataclass(frozen=True)
class CaseloadLine:
    participant_id: str
    label: str
    level: str | None
    level_name: str
    level_since: str | None
    weeks_in_program: int
    days_in_program: int
    hours: float | None
    required: float | None
    minutes: int | None  # this week's structured minutes, shown as h:mm
    required_minutes: int | None
    week_status: str | None
    open_findings: list[tuple[str, int]]  # (rule label, count)
    open_count: int


SORT_KEYS = ("participant", "level", "weeks", "hours", "findings")


def caseload_lines(
    rows: Sequence[CaseloadRow], reports: Mapping[str, ComplianceReport | None], today: date
) -> list[CaseloadLine]:
    monday = week_start(today)
    lines: list[CaseloadLine] = []
    for row in rows:
        report = reports.get(row.participant_id)
        this_week = next((t for t in weekly_totals(report) if t.week_start == monday), None)
        counts: dict[str, int] = {}
        for finding in () if report is None else report.open_findings:
            label = RULE_LABELS.get(finding.rule, finding.rule)
            counts[label] = counts.get(label, 0) + 1
        lines.append(
            CaseloadLine(
                participant_id=row.participant_id,
                label=short_id(row.participant_id),
                level=row.level,
                level_name=level_name(row.level),
                level_since=row.level_since,
                weeks_in_program=row.weeks_in_program,
                days_in_program=row.days_in_program,
                hours=None if this_week is None else this_week.hours,
                required=None if this_week is None else this_week.required,
                minutes=None if this_week is None else this_week.minutes,
                required_minutes=None if this_week is None else this_week.required_minutes,
                week_status=None if this_week is None else this_week.status,
                open_findings=sorted(counts.items()),
                open_count=row.open_findings,
            )
        )
    return lines


def sort_lines(lines: list[CaseloadLine], sort: str) -> tuple[list[CaseloadLine], str, bool]:
    """Lines sorted by `sort` (a key of SORT_KEYS, `-` first for descending)."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        key, descending = "findings", True
    keys: dict[str, Any] = {
        "participant": lambda line: line.participant_id,
        "level": lambda line: float(line.level) if line.level else -1.0,
        "weeks": lambda line: line.days_in_program,
        "hours": lambda line: (
            -1.0 if line.hours is None or not line.required else line.hours / line.required
        ),
        "findings": lambda line: line.open_count,
    }
    ordered = sorted(lines, key=lambda line: line.participant_id)  # stable tie-break
    ordered.sort(key=keys[key], reverse=descending)
    return ordered, key, descending
