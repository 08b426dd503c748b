"""The recording forms: each validates through the API's request model, which builds the same
command the API executes (domain.commands), recorded with the same Idempotency-Key receipts.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.http.dependencies import WriteContext
from api.pages import model
from api.pages.context import (
    Now,
    PageSession,
    app_of,
    log_read,
    need,
    scoped_from_path,
    timezone_of,
    views_of,
)
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
from api.pages.session import CSRF_FIELD, PageRefusal, Session, check_csrf
from api.security.authz import Action
from domain.errors import DomainError
from domain.participant import Participant

router = APIRouter(include_in_schema=False)
# How long a form's redirect waits for the caseload views to include the write.
VIEWS_WAIT_SECONDS = 2.0


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
    principal = need(session, Action.WRITE_RECORD)
    spec = _spec(slug)
    pid, participant = scoped_from_path(request, principal, participant_id)
    # The form shows the participant's id and level of care: a read, logged first.
    log_read(request, principal, pid, "record_form", now)
    tz = timezone_of(app_of(request), participant.program_id)
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
    principal = need(session, Action.WRITE_RECORD)
    spec = _spec(slug)
    pid, participant = scoped_from_path(request, principal, participant_id)
    application = app_of(request)
    tz = timezone_of(application, participant.program_id)
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
        application=application,
    )
    try:
        recorded = write.execute(body.to_command(pid), body)
    except DomainError as refused:
        request.state.error = refused.rule
        status = 422 if refused.rule in {"invalid_value", "idempotency_key_reused"} else 409
        return again(domain_errors(spec, refused), status)
    views = views_of(request)
    views.runner.wake()
    if recorded.position is not None:
        views.runner.wait_for(recorded.position, VIEWS_WAIT_SECONDS)
    anchor = model.event_anchor(recorded.event_id)
    return redirect(f"/participants/{pid}?recorded={recorded.event_id}#{anchor}")
