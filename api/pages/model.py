"""What the pages show, computed from the record: level bands, the hours chart, findings and
caseload rows (the timeline's weeks are in api.pages.timeline). Pure functions of events and
reports; no HTTP, no templates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from domain.errors import InvalidValue
from domain.levels import ALL_LEVEL_CODES, CriteriaEdition, LevelOfCare
from projections.compliance import ComplianceReport, WeekRow
from projections.weeks import zone

RULE_LABELS = {
    "weekly_hours": "Weekly hours",
    "individual_therapy_cadence": "Individual therapy",
    "screening_cadence": "Screening",
    "reassessment_due": "Reassessment",
    "attendance_gap": "Attendance gap",
    "positive_screen_followup": "Positive screen follow-up",
    "length_of_stay": "Length of stay",
    "discharge_reassessment": "Reassessment before discharge",
    "recertification": "Recertification",
    "discharge_summary": "Discharge summary",
}
WEEK_STATUS_LABELS = {
    "met": "met",
    "below_minimum": "below minimum",
    "partial_week": "partial week",
    "taper": "taper",
    "in_progress": "in progress",
}
SERVICE_LABELS = {
    "group": "Group",
    "psychoeducation": "Psychoeducation",
    "individual": "Individual therapy",
    "family": "Family",
    "case_management": "Case management",
}


def hours_minutes(minutes: float) -> str:
    """Minutes as h:mm (535 -> "8:55"): a decimal 8.92 h reads as 8 h 92 min to a clinician."""
    whole = round(minutes)
    return f"{whole // 60}:{whole % 60:02d}"


def level_name(code: str | None, edition: str = "3") -> str:
    if code is None:
        return "no level"
    try:
        return LevelOfCare.parse(code, edition).name
    except Exception:  # an unknown code in an old record is still shown, by its code
        return code


def level_class(code: str | None) -> str:
    """A CSS class per level (`lv-3-5`); the colours live in the stylesheet."""
    return "lv-none" if code is None else "lv-" + code.replace(".", "-")


def event_anchor(event_id: object) -> str:
    return f"event-{event_id}"


def short_id(participant_id: object) -> str:
    return str(participant_id)[:8]


def local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(zone(tz))


# ---- weekly hours ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekTotal:
    week_start: date
    level: str
    hours: float
    required: float
    status: str
    rows: tuple[WeekRow, ...]

    @property
    def minutes(self) -> int:
        return sum(r.structured_minutes for r in self.rows)

    @property
    def required_minutes(self) -> int:
        return round(self.required * 60)


def totals_by_week(weeks: Iterable[WeekRow]) -> dict[date, WeekTotal]:
    """One total per calendar week: a week split by a level change sums its stays and is
    judged against the level it ended at."""
    grouped: dict[date, list[WeekRow]] = {}
    for row in weeks:
        grouped.setdefault(row.week_start, []).append(row)
    totals: dict[date, WeekTotal] = {}
    for monday, rows in grouped.items():
        last = rows[-1]
        status = last.status if len(rows) == 1 else "partial_week"
        totals[monday] = WeekTotal(
            week_start=monday,
            level=last.level,
            hours=round(sum(r.structured_minutes for r in rows) / 60, 2),
            required=last.required_hours,
            status=status,
            rows=tuple(rows),
        )
    return totals


def weekly_totals(report: ComplianceReport | None) -> list[WeekTotal]:
    if report is None:
        return []
    return sorted(totals_by_week(report.weeks).values(), key=lambda t: t.week_start)


# ---- findings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingView:
    rule: str
    label: str
    status: str
    when: str
    overdue: bool
    evidence: list[tuple[str, str]]  # (anchor, link text)


def findings(report: ComplianceReport | None, known: Mapping[str, str]) -> list[FindingView]:
    """Open findings first, then resolved; evidence as links to timeline anchors."""
    if report is None:
        return []
    views: list[FindingView] = []
    for finding in report.findings:
        if finding.period is not None:
            when = f"week of {finding.period:%-d %b %Y}"
        elif finding.due is not None:
            when = f"due {finding.due:%-d %b %Y}"
        else:
            when = f"since {finding.opened_on:%-d %b %Y}"
        if finding.resolved_on is not None:
            when += f", resolved {finding.resolved_on:%-d %b %Y}"
        evidence = [
            (event_anchor(event_id), known.get(event_id, f"event {event_id[:8]}"))
            for event_id in finding.evidence
        ]
        views.append(
            FindingView(
                rule=finding.rule,
                label=RULE_LABELS.get(finding.rule, finding.rule),
                status=finding.status,
                when=when,
                overdue=finding.overdue,
                evidence=evidence,
            )
        )
    views.sort(key=lambda f: (f.status != "open",))
    return views


def level_choices() -> list[tuple[str, str]]:
    """Level codes of the third edition (the default), for form selects."""
    choices = []
    for code in ALL_LEVEL_CODES:
        try:
            level = LevelOfCare.parse(code, CriteriaEdition.THIRD.value)
        except InvalidValue:
            continue  # a fourth-edition-only code
        choices.append((code, f"{code} {level.name}"))
    return choices


def parse_uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None
