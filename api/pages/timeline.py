"""The participant page's timeline: every entry grouped by calendar week, newest first, with
the week's hours and the corrections linked both ways. Pure functions of events and the
compliance report; no HTTP, no templates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from api.pages.model import (
    SERVICE_LABELS,
    event_anchor,
    level_name,
    local,
    totals_by_week,
)
from domain.participant import Participant
from domain.timeline import TimelineEntry
from projections.compliance import ComplianceReport, WeekRow
from projections.weeks import week_start

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
    # One row per level the week was judged at: each session counts under its own level.
    rows: tuple[WeekRow, ...] = ()

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
    if isinstance(event, Participant.LevelRecoded):
        edition = event.criteria_edition
        title = f"Level re-coded {event.from_level} → {event.to_level} (edition {edition})"
        details = [
            ("Level", level_name(event.to_level, event.criteria_edition)),
            ("Reason", event.reason),
        ]
        return "recode", title, details, badges
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
    if isinstance(event, Participant.MedicationPrescribed):
        details = [("Started", event.started_on)]
        if event.ended_on:
            details.append(("Ended", event.ended_on))
        return "prescription", f"Prescribed {event.medication}", details, badges
    if isinstance(event, Participant.MedicationEnded):
        details = [("Ended", event.ended_on)]
        return "prescription_end", "Prescription ended", details, badges
    if isinstance(event, Participant.RecertificationRecorded):
        details = [("Note", event.note)] if event.note else []
        return "recertification", "Recertified for the program", details, badges
    if isinstance(event, Participant.DischargeSummaryRecorded):
        details = [("Summary", event.text)] if event.text else []
        return "discharge_summary", "Discharge summary completed", details, badges
    if isinstance(event, Participant.EntryCorrected):
        details = [("Reason", event.reason)]
        return "correction", "Entry marked entered in error", details, badges
    if isinstance(event, Participant.Registered):
        return "registered", f"Registered in {event.program_id}", details, badges
    return "other", type(event).__name__, details, badges


CORRECTABLE_KINDS = frozenset(
    {"session", "missed", "screening", "reassessment", "recertification", "discharge_summary"}
)


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
    hours = totals_by_week(report.weeks if report is not None else ())
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
                rows=() if total is None else total.rows,
            )
            groups[monday] = group
        group.entries.append(view)
    ordered = sorted(groups.values(), key=lambda g: g.week_start, reverse=True)
    for group in ordered:
        group.entries.reverse()
    return ordered


def evidence_labels(weeks: Sequence[WeekGroup]) -> dict[str, str]:
    return {
        entry.event_id: f"{entry.title} ({entry.occurred_at:%-d %b})"
        for week in weeks
        for entry in week.entries
    }
