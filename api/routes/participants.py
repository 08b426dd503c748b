"""Participants: the seven writes of the contract and the reads of one participant's record."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from api.http.dependencies import Application, Write
from api.http.errors import etag
from api.http.middleware import note_participant
from api.http.reads import LOGGED_READ_RESPONSES, LoggedRead, RecordRead
from api.http.timeline_cache import TimelineCache, cached_timeline, get_timeline_cache
from api.schemas.participants import (
    AdmissionRequest,
    CorrectionRequest,
    DischargeRequest,
    ErrorBody,
    LevelChangeRequest,
    ParticipantView,
    ReassessmentRequest,
    ScreeningRequest,
    SessionRequest,
    Timeline,
    WriteReceipt,
)
from api.security.authz import check_admission
from domain.commands import Recorded

router = APIRouter(prefix="/v1/participants", tags=["participants"])

ParticipantId = Annotated[UUID, Path(description="The participant's id (a UUID)")]

_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such participant"},
    422: {"model": ErrorBody, "description": "Malformed participant id"},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_READ_ERRORS,
    409: {"model": ErrorBody, "description": "The participant's history forbids this"},
    412: {"model": ErrorBody, "description": "If-Match names a stale version"},
    413: {"model": ErrorBody, "description": "Body too large"},
    422: {"model": ErrorBody, "description": "Malformed input; `field` names it"},
}


def created(response: Response, recorded: Recorded) -> WriteReceipt:
    response.headers["ETag"] = etag(recorded.version)
    response.headers["Location"] = f"{router.prefix}/{recorded.participant_id}"
    return WriteReceipt.of(recorded)


@router.post("", status_code=201, response_model=WriteReceipt, responses=WRITE_ERRORS)
def admit(
    body: AdmissionRequest,
    write: Write,
    application: Application,
    request: Request,
    response: Response,
) -> WriteReceipt:
    """Admit a new participant, or readmit a discharged one into a new episode."""
    check_admission(application, write.principal, body.program_id, body.participant_id)
    recorded = write.execute(application, body.to_command(), body)
    note_participant(request.state, recorded.participant_id)
    return created(response, recorded)


@router.post(
    "/{participant_id}/level-changes",
    status_code=201,
    response_model=WriteReceipt,
    responses=WRITE_ERRORS,
)
def change_level(
    participant_id: ParticipantId,
    body: LevelChangeRequest,
    write: Write,
    application: Application,
    response: Response,
) -> WriteReceipt:
    """Record a step-down or step-up to another level of care."""
    recorded = write.execute(application, body.to_command(participant_id), body)
    return created(response, recorded)


@router.post(
    "/{participant_id}/sessions",
    status_code=201,
    response_model=WriteReceipt,
    responses=WRITE_ERRORS,
)
def record_session(
    participant_id: ParticipantId,
    body: SessionRequest,
    write: Write,
    application: Application,
    response: Response,
) -> WriteReceipt:
    """Record a session the participant attended or missed."""
    recorded = write.execute(application, body.to_command(participant_id), body)
    return created(response, recorded)


@router.post(
    "/{participant_id}/screenings",
    status_code=201,
    response_model=WriteReceipt,
    responses=WRITE_ERRORS,
)
def record_screening(
    participant_id: ParticipantId,
    body: ScreeningRequest,
    write: Write,
    application: Application,
    response: Response,
) -> WriteReceipt:
    """Record a drug screen's specimen status and per-substance results."""
    recorded = write.execute(application, body.to_command(participant_id), body)
    return created(response, recorded)


@router.post(
    "/{participant_id}/reassessments",
    status_code=201,
    response_model=WriteReceipt,
    responses=WRITE_ERRORS,
)
def reassess(
    participant_id: ParticipantId,
    body: ReassessmentRequest,
    write: Write,
    application: Application,
    response: Response,
) -> WriteReceipt:
    """Record a reassessment: six dimension ratings, recommended and decided level."""
    recorded = write.execute(application, body.to_command(participant_id), body)
    return created(response, recorded)


@router.post(
    "/{participant_id}/discharge",
    status_code=201,
    response_model=WriteReceipt,
    responses=WRITE_ERRORS,
)
def discharge(
    participant_id: ParticipantId,
    body: DischargeRequest,
    write: Write,
    application: Application,
    response: Response,
) -> WriteReceipt:
    """Close the participant's current episode."""
    recorded = write.execute(application, body.to_command(participant_id), body)
    return created(response, recorded)


@router.post(
    "/{participant_id}/corrections",
    status_code=201,
    response_model=WriteReceipt,
    responses=WRITE_ERRORS,
)
def correct_entry(
    participant_id: ParticipantId,
    body: CorrectionRequest,
    write: Write,
    application: Application,
    response: Response,
) -> WriteReceipt:
    """Mark an earlier entry entered-in-error; both stay in the history."""
    recorded = write.execute(application, body.to_command(participant_id), body)
    return created(response, recorded)


@router.get(
    "/{participant_id}",
    response_model=ParticipantView,
    responses={**_READ_ERRORS, **LOGGED_READ_RESPONSES},
)
def get_participant(
    participant_id: ParticipantId,
    read: Annotated[RecordRead, Depends(LoggedRead("state"))],
    application: Application,
    response: Response,
) -> ParticipantView:
    """The participant's current state; its ETag is the stream version If-Match takes."""
    participant = application.peek_participant(participant_id)
    response.headers["ETag"] = etag(participant.version)
    return ParticipantView.of(participant)


@router.get(
    "/{participant_id}/timeline",
    response_model=Timeline,
    responses={**_READ_ERRORS, **LOGGED_READ_RESPONSES},
)
async def get_timeline(
    participant_id: ParticipantId,
    read: Annotated[RecordRead, Depends(LoggedRead("timeline"))],
    application: Application,
    cache: Annotated[TimelineCache, Depends(get_timeline_cache)],
) -> Response:
    """Every entry of the participant's stream in clinical order, corrections flagged."""
    # Rendered once per stream version (`Timeline`, as documented) and served as bytes: the
    # read's participant lookup already learned the current version, and the access entry
    # was written before this runs. async: a cached body is a dictionary lookup, served
    # without a threadpool hop; only a rendering (reads the store) goes to the threadpool.
    version = read.participant.version
    body = cache.get(participant_id, version)
    if body is None:
        body = await run_in_threadpool(cached_timeline, cache, application, participant_id, version)
    return Response(content=body, media_type="application/json")
