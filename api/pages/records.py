"""Caseloads, a participant's record and the "as known at" view of it.

Every record shown is written to the access log first (context.log_read).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.http.bounds import EARLIEST_DAY, latest_day
from api.pages import caseload_lines, charts, model, timeline
from api.pages.context import (
    Now,
    PageSession,
    app_of,
    log_read,
    log_reads,
    need,
    scoped_from_path,
    timezone_of,
    views_of,
)
from api.pages.forms import FORMS
from api.pages.render import render
from api.pages.session import PageRefusal
from api.security.authz import Action, Forbidden, check_program, may, visible_programs
from domain.application import ContinuumApplication
from domain.participant import Participant
from domain.timeline import in_clinical_order
from projections.history import known_by, program_of, replay
from projections.weeks import week_start, zone

router = APIRouter(include_in_schema=False)


# ---- caseloads --------------------------------------------------------------------------------


@router.get("/caseload", response_class=HTMLResponse)
def caseload_index(request: Request, session: PageSession, now: Now) -> Response:
    """The programs the caller sees, with their active caseload size."""
    principal = need(session, Action.READ_RECORD)
    own = visible_programs(principal)
    rows = views_of(request).queries.caseload(
        program_ids=None if own is None else sorted(own),
        level=None,
        status=None,
        as_of=now.date(),
    )
    counts: dict[str, int] = dict.fromkeys(sorted(own or ()), 0)
    for row in rows:
        counts[row.program_id] = counts.get(row.program_id, 0) + 1
    return render(
        request, "caseload_index.html", {"programs": sorted(counts.items())}, session=session
    )


@router.get("/caseload/{program_id}", response_class=HTMLResponse)
def caseload(
    request: Request,
    program_id: str,
    session: PageSession,
    now: Now,
    sort: Annotated[str, Query(max_length=20)] = "-findings",
) -> Response:
    """One program's active participants: level, weeks in, hours this week, open findings."""
    principal = need(session, Action.READ_RECORD)
    if len(program_id) > 200:
        raise PageRefusal(404, "Not found", "There is no such program.")
    try:
        check_program(principal, program_id)
    except Forbidden:
        raise PageRefusal(403, "Not allowed", "Your token does not name this program.") from None
    views = views_of(request)
    application = app_of(request)
    tz = timezone_of(application, program_id)
    today = model.local(now, tz).date()
    rows = views.queries.caseload(
        program_ids=[program_id], level=None, status="active", as_of=today
    )
    # Every participant listed is a read of their record: logged before the page is served.
    log_reads(request, principal, [r.participant_id for r in rows], "caseload_page", now)
    reports = {r.participant_id: views.queries.compliance(r.participant_id, today) for r in rows}
    lines = caseload_lines.caseload_lines(rows, reports, today)
    lines, key, descending = caseload_lines.sort_lines(lines, sort)
    return render(
        request,
        "caseload.html",
        {
            "program_id": program_id,
            "lines": lines,
            "sort_key": key,
            "descending": descending,
            "today": today,
            "week_start": week_start(today),
            "level_class": model.level_class,
            "columns": (
                ("participant", "Participant"),
                ("level", "Level of care"),
                ("weeks", "Weeks in program"),
                ("hours", "Hours this week"),
                ("findings", "Open findings"),
            ),
        },
        session=session,
    )


# ---- a participant's record ---------------------------------------------------------------


def _record_context(
    application: ContinuumApplication,
    participant: Participant,
    *,
    now: datetime,
    known_at: datetime | None,
) -> dict[str, Any]:
    """Everything the participant page shows, as recorded by `known_at` (None: now)."""
    stream = application.stream(participant.id)
    moment = known_at or now
    known = stream if known_at is None else known_by(stream, known_at)
    program_id = program_of(known) or participant.program_id
    tz = timezone_of(application, program_id)
    history = replay(
        stream,
        known_at=moment,
        as_of=moment,
        policy=application.policy_timeline(program_id),
    )
    report = history.compliance
    weeks = timeline.timeline_weeks(in_clinical_order(known), report, tz)
    totals = model.weekly_totals(report)
    this_monday = week_start(model.local(moment, tz).date())
    return {
        "participant": participant,
        "history": history,
        "program_id": program_id,
        "tz": tz,
        "short_id": model.short_id(participant.id),
        "level_name": model.level_name,
        "level_class": model.level_class,
        "weeks": weeks,
        "totals": totals,
        "this_week": next((t for t in totals if t.week_start == this_monday), None),
        "chart": charts.hours_chart(totals),
        "journey": charts.journey(history.level_history, moment, tz),
        "journey_width": charts.JOURNEY_WIDTH,
        "findings": model.findings(report, timeline.evidence_labels(weeks)),
        "known_at": known_at,
        "moment": model.local(moment, tz),
        "status_labels": model.WEEK_STATUS_LABELS,
        "forms": FORMS,
    }


@router.get("/participants/{participant_id}", response_class=HTMLResponse)
def participant_page(
    request: Request,
    participant_id: str,
    session: PageSession,
    now: Now,
    recorded: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    principal = need(session, Action.READ_RECORD)
    pid, participant = scoped_from_path(request, principal, participant_id)
    log_read(request, principal, pid, "participant_page", now)
    context = _record_context(app_of(request), participant, now=now, known_at=None)
    context["may_write"] = may(principal, Action.WRITE_RECORD)
    context["recorded"] = model.parse_uuid(recorded) if recorded else None
    return render(request, "participant.html", context, session=session)


def _parse_known_at(text: str, tz: str) -> datetime | None:
    """A date (the end of that day) or a local date-time, in the program's zone."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if not EARLIEST_DAY <= day <= latest_day():  # the queries' window (api.http.bounds)
                return None
            return datetime.combine(day + timedelta(days=1), time.min, zone(tz)) - timedelta(
                microseconds=1
            )
        moment = datetime.fromisoformat(text)
        if not EARLIEST_DAY <= moment.date() <= latest_day():
            return None
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone(tz))


@router.get("/participants/{participant_id}/as-known-at", response_class=HTMLResponse)
def known_at_page(
    request: Request,
    participant_id: str,
    session: PageSession,
    now: Now,
    known_at: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The auditor's view: the same page as the record stood at the end of a chosen day."""
    principal = need(session, Action.READ_RECORD)
    pid, participant = scoped_from_path(request, principal, participant_id)
    application = app_of(request)
    tz = timezone_of(application, participant.program_id)
    moment = _parse_known_at(known_at, tz) if known_at else None
    if known_at and moment is None:
        return render(
            request,
            "known_at_form.html",
            {
                "participant": participant,
                "short_id": model.short_id(pid),
                "value": known_at,
                "error": "Enter a date as YYYY-MM-DD.",
            },
            session=session,
            status=422,
        )
    if moment is None:
        return render(
            request,
            "known_at_form.html",
            {
                "participant": participant,
                "short_id": model.short_id(pid),
                "value": "",
                "error": None,
            },
            session=session,
        )
    log_read(request, principal, pid, "history_page", now)
    context = _record_context(application, participant, now=now, known_at=min(moment, now))
    context["may_write"] = False
    context["recorded"] = None
    context["known_at_value"] = known_at
    return render(request, "participant.html", context, session=session)
