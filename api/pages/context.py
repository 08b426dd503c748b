"""What every page route shares: the application and views of the request, the caller's
permission and program scope, the access log write before a record is shown, the program's zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from api.http.dependencies import clock
from api.http.reads import PurposeOfUse, log_accesses
from api.pages import model
from api.pages.session import PageRefusal, Session, current_session
from api.security.authz import Action, may, scoped_participant
from api.security.identity import Principal
from api.storage.access_log import AccessLogUnavailable
from api.storage.views import Views
from domain.application import ContinuumApplication
from domain.errors import ParticipantNotFound
from domain.participant import Participant

PageSession = Annotated[Session, Depends(current_session)]
Now = Annotated[datetime, Depends(clock)]
PAGE_PURPOSE = PurposeOfUse.TREAT


def app_of(request: Request) -> ContinuumApplication:
    application: ContinuumApplication = request.app.state.application
    return application


def views_of(request: Request) -> Views:
    views: Views = request.app.state.views
    return views


def need(session: Session, action: Action) -> Principal:
    if not may(session.principal, action):
        raise PageRefusal(
            403,
            "Not allowed",
            f"The role {session.principal.role} may not {action.value.replace('_', ' ')} here.",
        )
    return session.principal


def participant_id_of(raw: str) -> UUID:
    parsed = model.parse_uuid(raw)
    if parsed is None:
        raise PageRefusal(404, "Not found", "There is no such participant.")
    return parsed


def scoped_from_path(request: Request, principal: Principal, raw: str) -> tuple[UUID, Participant]:
    """The path's participant id and participant, if the caller may see it; the same 404 page
    for a malformed id, a missing participant and one outside the caller's programs."""
    participant_id = participant_id_of(raw)
    return participant_id, scoped(request, principal, participant_id)


def scoped(request: Request, principal: Principal, participant_id: UUID) -> Participant:
    """The participant if the caller may see it; a 404 page otherwise (as if missing)."""
    try:
        return scoped_participant(app_of(request), principal, participant_id)
    except ParticipantNotFound:
        raise PageRefusal(404, "Not found", "There is no such participant.") from None


def log_read(
    request: Request, principal: Principal, participant_id: UUID, record: str, now: datetime
) -> None:
    """Write the read to the access log before the page is served (as LoggedRead does)."""
    log_reads(request, principal, [participant_id], record, now)
    request.state.participant_id = str(participant_id)


def log_reads(
    request: Request,
    principal: Principal,
    participant_ids: Iterable[UUID | str],
    record: str,
    now: datetime,
) -> None:
    """The page's reads, one entry per participant shown, written before it is served."""
    access_log = request.app.state.access_log
    try:
        log_accesses(request, access_log, principal, participant_ids, record, PAGE_PURPOSE, now)
    except AccessLogUnavailable:
        raise PageRefusal(
            503,
            "Not available",
            "The read could not be written to the access log, so it was not shown. "
            "Try again shortly.",
        ) from None


def timezone_of(application: ContinuumApplication, program_id: str) -> str:
    timeline = application.policy_timeline(program_id)
    latest = timeline.changes[-1][1] if timeline.changes else timeline.initial
    return latest.timezone or application.default_timezone


def demo_links(request: Request) -> bool:
    return bool(getattr(request.app.state, "pages_demo_sign_in", False))
