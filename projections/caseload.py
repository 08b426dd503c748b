"""Caseload read model: per program, the active participants with level, weeks in program and
open finding count (the counts come from compliance reports computed for the same as-of date)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from projections.compliance import ComplianceReport
from projections.level_of_care import LevelOfCareState
from projections.weeks import local_date


@dataclass(frozen=True)
class CaseloadRow:
    participant_id: str
    program_id: str
    status: str
    level: str | None
    level_since: str | None
    age_group: str | None
    episode: int
    days_in_program: int  # since the current episode's admission, as of the caseload's date
    open_findings: int

    @property
    def weeks_in_program(self) -> int:
        """Completed weeks since admission (0 in the first week)."""
        return self.days_in_program // 7

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "weeks_in_program": self.weeks_in_program}


@dataclass(frozen=True)
class Caseload:
    as_of: date
    programs: Mapping[str, tuple[CaseloadRow, ...]]

    def rows(self, *, program_id: str | None = None, level: str | None = None) -> list[CaseloadRow]:
        """Rows of one program (or all), optionally at one level, in program then row order."""
        return [
            row
            for program, rows in sorted(self.programs.items())
            if program_id is None or program == program_id
            for row in rows
            if level is None or row.level == level
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "programs": {
                program: [row.to_dict() for row in rows]
                for program, rows in sorted(self.programs.items())
            },
        }


def build(
    participants: Iterable[LevelOfCareState],
    reports: Mapping[str, ComplianceReport],
    as_of: date,
    *,
    include_discharged: bool = False,
    timezone: str = "UTC",
) -> Caseload:
    """The caseload as of `as_of` from level-of-care states and compliance reports (by
    participant id; a participant without a report counts 0 open findings)."""
    programs: dict[str, list[CaseloadRow]] = {}
    for state in participants:
        if state.status != "active" and not (include_discharged and state.status == "discharged"):
            continue
        report = reports.get(state.participant_id)
        admitted = state.admitted_at
        days = 0 if admitted is None else (as_of - local_date(admitted, timezone)).days
        since = state.level_since
        programs.setdefault(state.program_id, []).append(
            CaseloadRow(
                participant_id=state.participant_id,
                program_id=state.program_id,
                status=state.status,
                level=state.level,
                level_since=None if since is None else since.isoformat(),
                age_group=state.age_group,
                episode=state.episode,
                days_in_program=max(days, 0),
                open_findings=0 if report is None else len(report.open_findings),
            )
        )
    return Caseload(
        as_of,
        {
            program: tuple(sorted(rows, key=lambda r: (-r.days_in_program, r.participant_id)))
            for program, rows in programs.items()
        },
    )
