"""The clinicians' pages: sign-in, caseloads, a participant's record, the recording forms and
the "as known at" view. Same roles, program scope, commands and access log as the API.

Reads and writes touch the synchronous library, so they run in the thread pool; only reading
a submitted form is async.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.http.dependencies import WriteContext, clock
from api.http.reads import PurposeOfUse, log_access
from api.pages import model
from api.pages.forms import (
    FORMS,
    FormSpec,
    FormValues,
    anchor_of,
    domain_errors,
    form_values,
    placed,
    request_body,
    validation_errors,
)
from api.pages.render import redirect, render
from api.pages.session import (
    CSRF_FIELD,
    PageRefusal,
    Session,
    check_csrf,
    check_signin_csrf,
    clear_session,
    current_session,
    set_session,
    set_signin_csrf,
    signin_csrf,
    verify_token,
)
from api.security.authz import (
    Action,
    Forbidden,
    check_program,
    may,
    scoped_participant,
    visible_programs,
)
from api.security.identity import Principal
from api.security.tokens import InvalidToken
from api.storage.access_log import AccessLogUnavailable
from api.storage.views import Views
from domain.application import ContinuumApplication, TimelineEntry
from domain.errors import DomainError, ParticipantNotFound
from domain.participant import Participant
from projections.history import known_by, program_of, replay
from projections.weeks import week_start, zone

router = APIRouter(include_in_schema=False)

PageSession = Annotated[Session, Depends(current_session)]
Now = Annotated[datetime, Depends(clock)]
# How long a form's redirect waits for the caseload views to include the write.
VIEWS_WAIT_SECONDS = 2.0
PAGE_PURPOSE = PurposeOfUse.TREAT


# ---- helpers ----------------------------------------------------------------------------------


def _app(request: Request) -> ContinuumApplication:
    application: ContinuumApplication = request.app.state.application
    return application


def _views(request: Request) -> Views:
    views: Views = request.app.state.views
    return views


def _need(session: Session, action: Action) -> Principal:
    if not may(session.principal, action):
        raise PageRefusal(
            403,
            "Not allowed",
            f"The role {session.principal.role} may not {action.value.replace('_', ' ')} here.",
        )
    return session.principal


def _participant_id(raw: str) -> UUID:
    parsed = model.parse_uuid(raw)
    if parsed is None:
        raise PageRefusal(404, "Not found", "There is no such participant.")
    return parsed


def _scoped(request: Request, principal: Principal, participant_id: UUID) -> Participant:
    """The participant if the caller may see it; a 404 page otherwise (as if missing)."""
    try:
        return scoped_participant(_app(request), principal, participant_id)
    except ParticipantNotFound:
        raise PageRefusal(404, "Not found", "There is no such participant.") from None


def _log_read(
    request: Request, principal: Principal, participant_id: UUID, record: str, now: datetime
) -> None:
    """Write the read to the access log before the page is served (as LoggedRead does)."""
    access_log = request.app.state.access_log
    try:
        log_access(request, access_log, principal, participant_id, record, PAGE_PURPOSE, now)
    except AccessLogUnavailable:
        raise PageRefusal(
            503,
            "Not available",
            "The read could not be written to the access log, so it was not shown. "
            "Try again shortly.",
        ) from None
    request.state.participant_id = str(participant_id)


def _timezone(application: ContinuumApplication, program_id: str) -> str:
    timeline = application.policy_timeline(program_id)
    latest = timeline.changes[-1][1] if timeline.changes else timeline.initial
    return latest.timezone


def _demo_links(request: Request) -> bool:
    return bool(getattr(request.app.state, "pages_demo_sign_in", False))


# ---- sign-in ----------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return redirect("/caseload" if request.cookies.get("continuum_session") else "/signin")


def _signin_form(
    request: Request, *, error: str | None = None, notice: str | None = None, status: int = 200
) -> HTMLResponse:
    csrf = signin_csrf(request)
    response = render(
        request,
        "signin.html",
        {"csrf": csrf, "error": error, "notice": notice, "demo": _demo_links(request)},
        status=status,
    )
    set_signin_csrf(request, response, csrf)
    return response


def _sign_in(request: Request, token: str, next_page: str = "/caseload") -> Response:
    try:
        principal = verify_token(request, token)
    except InvalidToken as refused:
        return _signin_form(
            request, error=f"That token was not accepted: {refused.reason}.", status=401
        )
    if not may(principal, Action.READ_RECORD):
        return _signin_form(
            request,
            error=f"The role {principal.role} cannot use these pages (it reads no records).",
            status=403,
        )
    response = redirect(next_page)
    set_session(request, response, token)
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_page(
    request: Request,
    token: Annotated[str | None, Query(max_length=8192)] = None,
    signed_out: bool = False,
    next_page: Annotated[
        str, Query(alias="next", max_length=200, pattern=r"^/[A-Za-z0-9/_-]*$")
    ] = "/caseload",
) -> Response:
    """The sign-in form; in demo mode, `?token=` signs in at once (the links serve prints)
    and goes on to `?next=` (a path of this site only: never another host)."""
    if token is not None and _demo_links(request):
        return _sign_in(request, token, "/caseload" if next_page.startswith("//") else next_page)
    return _signin_form(request, notice="You are signed out." if signed_out else None)


@router.post("/signin", response_class=HTMLResponse)
async def signin_submit(request: Request) -> Response:
    form = await request.form()
    check_signin_csrf(request, form.get(CSRF_FIELD))
    token = form.get("token")
    return _sign_in(request, token.strip() if isinstance(token, str) else "")


@router.post("/signout", response_class=HTMLResponse)
async def signout(request: Request, session: PageSession) -> Response:
    form = await request.form()
    check_csrf(request, session, form.get(CSRF_FIELD))
    response = redirect("/signin?signed_out=true")
    clear_session(request, response)
    return response


# ---- caseloads --------------------------------------------------------------------------------


@router.get("/caseload", response_class=HTMLResponse)
def caseload_index(request: Request, session: PageSession, now: Now) -> Response:
    """The programs the caller sees, with their active caseload size."""
    principal = _need(session, Action.READ_RECORD)
    own = visible_programs(principal)
    rows = _views(request).queries.caseload(
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
    principal = _need(session, Action.READ_RECORD)
    if len(program_id) > 200:
        raise PageRefusal(404, "Not found", "There is no such program.")
    try:
        check_program(principal, program_id)
    except Forbidden:
        raise PageRefusal(403, "Not allowed", "Your token does not name this program.") from None
    views = _views(request)
    application = _app(request)
    tz = _timezone(application, program_id)
    today = model.local(now, tz).date()
    rows = views.queries.caseload(
        program_ids=[program_id], level=None, status="active", as_of=today
    )
    reports = {r.participant_id: views.queries.compliance(r.participant_id, today) for r in rows}
    lines, key, descending = model.sort_lines(model.caseload_lines(rows, reports, today), sort)
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


def _entries(events: list[Participant.Event]) -> list[TimelineEntry]:
    """The events in clinical order with the corrections among them (as application.timeline)."""
    corrected_by = {
        e.corrected_event_id: e.event_id
        for e in events
        if isinstance(e, Participant.EntryCorrected)
    }
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.originator_version))
    return [TimelineEntry(e, corrected_by.get(e.event_id)) for e in ordered]


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
    tz = _timezone(application, program_id)
    history = replay(
        stream,
        known_at=moment,
        as_of=moment,
        policy=application.policy_timeline(program_id),
    )
    report = history.compliance
    weeks = model.timeline_weeks(_entries(known), report, tz)
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
        "chart": model.hours_chart(totals),
        "journey": model.journey(history.level_history, moment, tz),
        "journey_width": model.JOURNEY_WIDTH,
        "findings": model.findings(report, model.evidence_labels(weeks)),
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
    principal = _need(session, Action.READ_RECORD)
    pid = _participant_id(participant_id)
    participant = _scoped(request, principal, pid)
    _log_read(request, principal, pid, "participant_page", now)
    context = _record_context(_app(request), participant, now=now, known_at=None)
    context["may_write"] = may(principal, Action.WRITE_RECORD)
    context["recorded"] = model.parse_uuid(recorded) if recorded else None
    return render(request, "participant.html", context, session=session)


def _parse_known_at(text: str, tz: str) -> datetime | None:
    """A date (the end of that day) or a local date-time, in the program's zone."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1), time.min, zone(tz)) - timedelta(
                microseconds=1
            )
        moment = datetime.fromisoformat(text)
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
    principal = _need(session, Action.READ_RECORD)
    pid = _participant_id(participant_id)
    participant = _scoped(request, principal, pid)
    application = _app(request)
    tz = _timezone(application, participant.program_id)
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
    _log_read(request, principal, pid, "history_page", now)
    context = _record_context(application, participant, now=now, known_at=min(moment, now))
    context["may_write"] = False
    context["recorded"] = None
    context["known_at_value"] = known_at
    return render(request, "participant.html", context, session=session)


# ---- recording forms --------------------------------------------------------------------------


def _spec(slug: str) -> FormSpec:
    spec = FORMS.get(slug)
    if spec is None:
        raise PageRefusal(404, "Not found", "There is no such form.")
    return spec


def _form_page(
    request: Request,
    session: Session,
    participant: Participant,
    spec: FormSpec,
    *,
    values: FormValues,
    idempotency_key: str,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    at_field, general = placed(spec, errors or {})
    summary = [
        (anchor_of(spec, name), f"{_label(spec, name)}: {message}")
        for name, message in at_field.items()
    ]
    return render(
        request,
        "form.html",
        {
            "participant": participant,
            "short_id": model.short_id(participant.id),
            "spec": spec,
            "values": values,
            "errors": at_field,
            "general": general,
            "summary": summary,
            "idempotency_key": idempotency_key,
            "level_name": model.level_name,
        },
        session=session,
        status=status,
    )


def _label(spec: FormSpec, name: str) -> str:
    for f in spec.fields:
        if f.name == name:
            return f.label
    return spec.groups.get(name, name)


def _defaults(spec: FormSpec, now: datetime, tz: str) -> FormValues:
    local_now = model.local(now, tz).replace(second=0, microsecond=0, tzinfo=None)
    values = {
        f.name: local_now.isoformat(timespec="minutes") for f in spec.fields if f.kind == "datetime"
    }
    if spec.slug == "session":
        values.update({"attended": "true", "service": "group", "duration_minutes": "60"})
    return values


@router.get("/participants/{participant_id}/record/{slug}", response_class=HTMLResponse)
def form_page(
    request: Request, participant_id: str, slug: str, session: PageSession, now: Now
) -> Response:
    principal = _need(session, Action.WRITE_RECORD)
    spec = _spec(slug)
    participant = _scoped(request, principal, _participant_id(participant_id))
    tz = _timezone(_app(request), participant.program_id)
    return _form_page(
        request,
        session,
        participant,
        spec,
        values=_defaults(spec, now, tz),
        # Generated once per rendering: submitting this form twice records once.
        idempotency_key=secrets.token_urlsafe(18),
    )


@router.post("/participants/{participant_id}/record/{slug}", response_class=HTMLResponse)
async def form_submit(
    request: Request, participant_id: str, slug: str, session: PageSession, now: Now
) -> Response:
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, session, data.get(CSRF_FIELD))
    return await run_in_threadpool(_record, request, participant_id, slug, session, now, data)


def _record(
    request: Request,
    participant_id: str,
    slug: str,
    session: Session,
    now: datetime,
    data: dict[str, str],
) -> Response:
    principal = _need(session, Action.WRITE_RECORD)
    spec = _spec(slug)
    pid = _participant_id(participant_id)
    participant = _scoped(request, principal, pid)
    application = _app(request)
    tz = _timezone(application, participant.program_id)
    values = form_values(data, spec)
    key = data.get("idempotency_key", "")
    if not 8 <= len(key) <= 100 or not key.isascii():
        key = secrets.token_urlsafe(18)  # a tampered key: this submission stands alone

    def again(errors: dict[str, str], status: int) -> HTMLResponse:
        return _form_page(
            request,
            session,
            participant,
            spec,
            values=values,
            idempotency_key=key,
            errors=errors,
            status=status,
        )

    try:
        body = spec.model.model_validate(request_body(spec, values, tz))
    except ValidationError as invalid:
        request.state.error = "invalid_request"
        return again(validation_errors(invalid), 422)
    write = WriteContext(
        recorded_by=principal.sub,
        now=now,
        expected_version=None,
        idempotency_key=f"{principal.sub}:page:{key}",
        request_line=f"POST /participants/{{participant_id}}/record/{slug} participant_id={pid}",
        principal=principal,
    )
    try:
        recorded = write.execute(application, body.to_command(pid), body)
    except DomainError as refused:
        request.state.error = refused.rule
        status = 422 if refused.rule in {"invalid_value", "idempotency_key_reused"} else 409
        return again(domain_errors(spec, refused), status)
    views = _views(request)
    views.runner.wake()
    if recorded.position is not None:
        views.runner.wait_for(recorded.position, VIEWS_WAIT_SECONDS)
    anchor = model.event_anchor(recorded.event_id)
    return redirect(f"/participants/{pid}?recorded={recorded.event_id}#{anchor}")
