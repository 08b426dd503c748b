"""What the pages show, computed from the record: timeline weeks, level bands, the hours chart,
findings and caseload rows. Pure functions of events and reports; no HTTP, no templates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from math import ceil
from typing import Any
from uuid import UUID

from domain.application import TimelineEntry
from domain.errors import InvalidValue
from domain.levels import ALL_LEVEL_CODES, CriteriaEdition, LevelOfCare
from domain.participant import Participant
from projections.caseload import CaseloadRow
from projections.compliance import ComplianceReport, WeekRow
from projections.level_of_care import LevelSpan
from projections.weeks import week_start, zone

RULE_LABELS = {
    "weekly_hours": "Weekly hours",
    "individual_therapy_cadence": "Individual therapy",
    "screening_cadence": "Screening",
    "reassessment_due": "Reassessment",
    "attendance_gap": "Attendance gap",
    "positive_screen_followup": "Positive screen follow-up",
    "length_of_stay": "Length of stay",
}
WEEK_STATUS_LABELS = {
    "met": "met",
    "below_minimum": "below minimum",
    "partial_week": "partial week",
    "taper": "taper",
}
SERVICE_LABELS = {
    "group": "Group",
    "psychoeducation": "Psychoeducation",
    "individual": "Individual therapy",
    "family": "Family",
    "case_management": "Case management",
}


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


# ---- timeline ---------------------------------------------------------------------------------


@dataclass
class EntryView:
    event_id: str
    anchor: str
    kind: str  # css/test hook: admission, step_down, step_up, session, missed, screening, ...
    title: str
    occurred_at: datetime  # in the program's zone
    recorded_at: datetime
    recorded_by: str
    level: str | None  # the level in force once this entry happened
    details: list[tuple[str, str]] = field(default_factory=list)
    badges: list[tuple[str, str]] = field(default_factory=list)  # (text, css class)
    corrected: bool = False
    correction_reason: str | None = None
    correction_anchor: str | None = None
    corrects_anchor: str | None = None  # for an EntryCorrected: the entry it retracts
    correctable: bool = False


@dataclass
class WeekGroup:
    week_start: date
    levels: list[str]  # the levels in force during the week, in order
    entries: list[EntryView]  # newest first
    hours: float | None
    required: float | None
    status: str | None

    @property
    def week_end(self) -> date:
        return self.week_start + timedelta(days=6)


def _describe(event: Participant.Event) -> tuple[str, str, list[tuple[str, str]], list[Any]]:
    """(kind, title, details, badges) of one event."""
    details: list[tuple[str, str]] = []
    badges: list[tuple[str, str]] = []
    if isinstance(event, Participant.Admitted):
        title = f"Admitted at {event.level} ({level_name(event.level, event.criteria_edition)})"
        details = [("Program", event.program_id), ("Pathway", event.pathway.replace("_", " "))]
        if event.referred_from_level:
            details.append(("Referred from level", event.referred_from_level))
        return "admission", title, details, badges
    if isinstance(event, Participant.SteppedDown | Participant.SteppedUp):
        down = isinstance(event, Participant.SteppedDown)
        verb = "Stepped down" if down else "Stepped up"
        title = f"{verb} {event.from_level} → {event.to_level}"
        details = [
            ("New level", level_name(event.to_level, event.criteria_edition)),
            ("Reason", event.reason),
        ]
        return ("step_down" if down else "step_up"), title, details, badges
    if isinstance(event, Participant.SessionAttended | Participant.SessionMissed):
        attended = isinstance(event, Participant.SessionAttended)
        service = SERVICE_LABELS.get(event.service, event.service)
        title = f"{service} session, {event.duration_minutes} min"
        if event.modality:
            details.append(("Modality", event.modality))
        if event.track:
            details.append(("Track", event.track))
        if attended:
            badges.append(("attended", "badge-ok"))
        else:
            badges.append(("missed", "badge-warn"))
        return ("session" if attended else "missed"), title, details, badges
    if isinstance(event, Participant.ScreeningResultRecorded):
        screening = event.screening
        title = f"Screening: {event.specimen.replace('_', ' ')} specimen, {event.status}"
        outcome = screening.outcome.value
        for substance, result in sorted(event.results.items()):
            if result == "positive" and substance in event.prescribed:
                badges.append((f"{substance}: expected positive (prescribed)", "badge-info"))
            elif result == "positive":
                badges.append((f"{substance}: positive", "badge-alert"))
        negatives = sorted(s for s, r in event.results.items() if r == "negative")
        if negatives:
            details.append(("Negative", ", ".join(negatives)))
        if event.prescribed:
            details.append(("Prescribed", ", ".join(sorted(event.prescribed))))
        details.append(("Outcome", outcome.replace("_", " ")))
        return "screening", title, details, badges
    if isinstance(event, Participant.Reassessed):
        title = (
            f"Reassessment: recommended {event.recommended_level}, decided {event.decided_level}"
        )
        ratings = ", ".join(f"{k.upper()} {v}" for k, v in sorted(event.dimensions.items()))
        details = [("Dimension ratings", ratings), ("Rationale", event.rationale)]
        return "reassessment", title, details, badges
    if isinstance(event, Participant.Discharged):
        title = f"Discharged ({event.reason.replace('_', ' ')})"
        if event.to_level:
            details.append(("Referred to level", event.to_level))
        return "discharge", title, details, badges
    if isinstance(event, Participant.EntryCorrected):
        details = [("Reason", event.reason)]
        return "correction", "Entry marked entered in error", details, badges
    if isinstance(event, Participant.Registered):
        return "registered", f"Registered in {event.program_id}", details, badges
    return "other", type(event).__name__, details, badges


CORRECTABLE_KINDS = frozenset({"session", "missed", "screening", "reassessment"})


def timeline_weeks(
    entries: Sequence[TimelineEntry], report: ComplianceReport | None, tz: str
) -> list[WeekGroup]:
    """The timeline grouped by calendar week (Monday first), newest week and entry first."""
    by_id = {str(e.event.event_id): e.event for e in entries}
    level: str | None = None
    views: list[EntryView] = []
    week_levels: dict[date, list[str]] = {}
    for entry in entries:  # clinical order
        event = entry.event
        if isinstance(event, Participant.Admitted):
            level = event.level
        elif isinstance(event, Participant.LevelChanged):
            level = event.to_level
        kind, title, details, badges = _describe(event)
        if kind == "registered":
            continue  # the admission that follows at once says the same
        at = local(event.occurred_at, tz)
        view = EntryView(
            event_id=str(event.event_id),
            anchor=event_anchor(event.event_id),
            kind=kind,
            title=title,
            occurred_at=at,
            recorded_at=local(event.recorded_at, tz),
            recorded_by=event.recorded_by,
            level=level,
            details=details,
            badges=badges,
            correctable=kind in CORRECTABLE_KINDS and not entry.corrected,
        )
        if entry.corrected_by is not None:
            correction = by_id.get(str(entry.corrected_by))
            view.corrected = True
            view.correction_anchor = event_anchor(entry.corrected_by)
            if isinstance(correction, Participant.EntryCorrected):
                view.correction_reason = correction.reason
        if isinstance(event, Participant.EntryCorrected):
            view.corrects_anchor = event_anchor(event.corrected_event_id)
            target = by_id.get(str(event.corrected_event_id))
            if target is not None:
                view.title = f"Entry marked entered in error: {_describe(target)[1]}"
        views.append(view)
        monday = week_start(at.date())
        if level is not None:
            levels = week_levels.setdefault(monday, [])
            if not levels or levels[-1] != level:
                levels.append(level)
        if isinstance(event, Participant.Discharged):
            level = None
    hours = _weekly_totals(report.weeks if report is not None else ())
    groups: dict[date, WeekGroup] = {}
    for view in views:
        monday = week_start(view.occurred_at.date())
        group = groups.get(monday)
        if group is None:
            total = hours.get(monday)
            group = WeekGroup(
                week_start=monday,
                levels=week_levels.get(monday, []),
                entries=[],
                hours=None if total is None else total.hours,
                required=None if total is None else total.required,
                status=None if total is None else total.status,
            )
            groups[monday] = group
        group.entries.append(view)
    ordered = sorted(groups.values(), key=lambda g: g.week_start, reverse=True)
    for group in ordered:
        group.entries.reverse()
    return ordered


# ---- weekly hours ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekTotal:
    week_start: date
    level: str
    hours: float
    required: float
    status: str
    rows: tuple[WeekRow, ...]


def _weekly_totals(weeks: Iterable[WeekRow]) -> dict[date, WeekTotal]:
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
    return sorted(_weekly_totals(report.weeks).values(), key=lambda t: t.week_start)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label_x: float
    label: str
    status: str
    title: str
    min_y: float  # the level's minimum, as a y coordinate
    hours_label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    ticks: list[tuple[float, str]]  # (y, label)
    bars: list[Bar]
    minimum_path: str  # a step line at each week's required hours
    summary: str


CHART_HEIGHT = 240
PLOT_LEFT, PLOT_TOP, PLOT_BOTTOM_MARGIN, PLOT_RIGHT_MARGIN = 48, 16, 40, 16
MIN_SLOT, MAX_SLOT, CHART_TARGET_WIDTH = 36, 88, 1040


def hours_chart(totals: Sequence[WeekTotal]) -> Chart | None:
    """Geometry of the SVG chart: a bar of structured hours per week, the minimum as a line."""
    if not totals:
        return None
    top_value = max(max(t.hours for t in totals), max(t.required for t in totals), 1.0)
    step = 5 if top_value > 12 else 2
    scale_max = ceil(top_value * 1.1 / step) * step
    # Wide bars for a short stay, narrower ones (and a scrolling chart) for a long one.
    slot = max(MIN_SLOT, min(MAX_SLOT, (CHART_TARGET_WIDTH - PLOT_LEFT) // len(totals)))
    width = PLOT_LEFT + slot * len(totals) + PLOT_RIGHT_MARGIN
    bottom = CHART_HEIGHT - PLOT_BOTTOM_MARGIN
    span = bottom - PLOT_TOP

    def y(value: float) -> float:
        return round(bottom - span * value / scale_max, 1)

    bars: list[Bar] = []
    path: list[str] = []
    for i, total in enumerate(totals):
        left = PLOT_LEFT + i * slot
        top = y(total.hours)
        min_y = y(total.required)
        path.append(f"{'M' if i == 0 else 'L'}{left} {min_y} L{left + slot} {min_y}")
        status = WEEK_STATUS_LABELS.get(total.status, total.status)
        bars.append(
            Bar(
                x=left + slot * 0.2,
                y=top,
                width=round(slot * 0.6, 1),
                height=round(bottom - top, 1),
                label_x=left + slot / 2,
                label=total.week_start.strftime("%-d %b"),
                status=total.status,
                title=(
                    f"Week of {total.week_start:%-d %b %Y}: {total.hours:g} h of "
                    f"{total.required:g} h minimum at level {total.level} ({status})"
                ),
                min_y=min_y,
                hours_label=f"{total.hours:g}",
            )
        )
    ticks = [(y(v), f"{v:g}") for v in range(0, scale_max + 1, step)]
    below = sum(1 for t in totals if t.status == "below_minimum")
    first, last = totals[0], totals[-1]
    summary = (
        f"{len(totals)} weeks from {first.week_start:%-d %b %Y} to {last.week_start:%-d %b %Y}; "
        f"latest week {last.hours:g} h against a {last.required:g} h minimum at level "
        f"{last.level}; {below} week(s) below the minimum."
    )
    return Chart(
        width=width,
        height=CHART_HEIGHT,
        plot_left=PLOT_LEFT,
        plot_right=width - PLOT_RIGHT_MARGIN,
        plot_top=PLOT_TOP,
        plot_bottom=bottom,
        ticks=ticks,
        bars=bars,
        minimum_path=" ".join(path),
        summary=summary,
    )


# ---- level journey ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JourneySpan:
    level: str
    name: str
    x: float
    width: float
    started: datetime
    ended: datetime | None
    label: str
    event_anchor: str


JOURNEY_WIDTH = 960


def journey(spans: Sequence[LevelSpan], now: datetime, tz: str) -> list[JourneySpan]:
    """Stays at each level as proportional segments of one strip (the bands of the page)."""
    if not spans:
        return []
    start = spans[0].started_at
    end = max(now, *(s.ended_at or s.started_at for s in spans))
    total = max((end - start).total_seconds(), 1.0)
    out: list[JourneySpan] = []
    for span in spans:
        until = span.ended_at or end
        x = (span.started_at - start).total_seconds() / total * JOURNEY_WIDTH
        width = max((until - span.started_at).total_seconds() / total * JOURNEY_WIDTH, 2.0)
        started = local(span.started_at, tz)
        ended = None if span.ended_at is None else local(span.ended_at, tz)
        days = (until - span.started_at).days
        out.append(
            JourneySpan(
                level=span.level,
                name=level_name(span.level, span.criteria_edition),
                x=round(x, 1),
                width=round(width, 1),
                started=started,
                ended=ended,
                label=f"Level {span.level} · {days} days" if width > 160 else span.level,
                event_anchor=event_anchor(span.event_id),
            )
        )
    return out


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


def evidence_labels(weeks: Sequence[WeekGroup]) -> dict[str, str]:
    return {
        entry.event_id: f"{entry.title} ({entry.occurred_at:%-d %b})"
        for week in weeks
        for entry in week.entries
    }


# ---- caseload ---------------------------------------------------------------------------------


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
