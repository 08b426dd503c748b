"""Participants: the seven writes of the contract and the reads of one participant's record."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from api.http.dependencies import Write
from api.http.direct import DirectRoute
from api.http.errors import etag
from api.http.middleware import note_participant
from api.http.reads import LOGGED_READ_RESPONSES, LoggedRead, RecordRead
from api.http.timeline_cache import TimelineCache, cached_timeline
from api.routes import ParticipantId
from api.schemas.participants import (
    AdmissionRequest,
    CorrectionRequest,
    DischargeRequest,
    ErrorBody,
    LevelChangeRequest,
    ParticipantView,
    ReassessmentRequest,
    RecordRequest,
    ScreeningRequest,
    SessionRequest,
    Timeline,
    WriteReceipt,
)
from api.schemas.reply import Reply
from api.security.authz import check_admission
from domain.commands import Recorded

# The hot reads are served by DirectRoute's handler (api.http.direct says which and why).
router = APIRouter(prefix="/v1/participants", tags=["participants"], route_class=DirectRoute)


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


def created(recorded: Recorded, receipt: Reply | None = None) -> Response:
    """The 201 answering a write: `receipt` (the recorded write's WriteReceipt unless given),
    with the stream's new ETag and the participant's Location.

    Returned as a ready Response, which FastAPI sends as it is: for a sync endpoint with a
    response_model it would otherwise re-validate the receipt in a threadpool hand-off of its
    own (with write_context's, two of a write's three hand-offs; under load the hand-offs'
    queue wake-ups were ~5% of a write's profile samples, and the two removed cut ~0.3 ms of
    the server's ~4.7 ms of CPU per write). The bytes are those FastAPI would send (the same
    model, dumped to JSON), and the decorator's response_model still documents them."""
    body = (receipt or WriteReceipt.read(recorded)).model_dump_json().encode()
    response = Response(content=body, status_code=201, media_type="application/json")
    response.headers["ETag"] = etag(recorded.version)
    response.headers["Location"] = f"{router.prefix}/{recorded.participant_id}"
    return response


# The reads come first: a request is matched against the routes in the order they were
# added (twice: FastAPI finds the router, then the route), and the reads are the most
# frequent requests. No two of these paths overlap, so the order changes nothing else.


@router.get(
    "/{participant_id}",
    response_model=ParticipantView,
    responses={**_READ_ERRORS, **LOGGED_READ_RESPONSES},
)
async def get_participant(
    read: Annotated[RecordRead, Depends(LoggedRead("state"))],
) -> Response:
    """The participant's current state; its ETag is the stream version If-Match takes."""
    # The state the read confirmed current (every write acknowledged before it began) and
    # logged: no second look, and async, so no threadpool hand-off of its own. Returned as
    # the bytes FastAPI would send for the response_model (as `created` does), so DirectRoute
    # serves it (api.http.direct).
    participant = read.participant
    body = ParticipantView.of(participant).model_dump_json().encode()
    response = Response(content=body, media_type="application/json")
    response.headers["ETag"] = etag(participant.version)
    return response


@router.get(
    "/{participant_id}/timeline",
    response_model=Timeline,
    responses={**_READ_ERRORS, **LOGGED_READ_RESPONSES},
)
async def get_timeline(
    read: Annotated[RecordRead, Depends(LoggedRead("timeline"))],
    request: Request,
) -> Response:
    """Every entry of the participant's stream in clinical order, corrections flagged."""
    # The path's participant id is read (and validated) once, by LoggedRead.
    participant_id = read.participant.id
    # Rendered once per stream version (`Timeline`, as documented) and served as bytes: the
    # read's participant lookup already learned the current version, and the access entry
    # was written before this runs. async: a cached body is a dictionary lookup, served
    # without a threadpool hop; only a rendering (reads the store) goes to the threadpool.
    version = read.participant.version
    cache: TimelineCache = request.app.state.timeline_cache
    body = cache.get(participant_id, version)
    if body is None:
        body = await run_in_threadpool(
            cached_timeline, cache, read.application, participant_id, version
        )
    return Response(content=body, media_type="application/json")


@router.post("", status_code=201, response_model=WriteReceipt, responses=WRITE_ERRORS)
def admit(body: AdmissionRequest, write: Write, request: Request) -> Response:
    """Admit a new participant, or readmit a discharged one into a new episode."""
    check_admission(write.application, write.principal, body.program_id, body.participant_id)
    recorded = write.execute(body.to_command(), body)
    note_participant(request.state, recorded.participant_id)
    return created(recorded)


def _record_write(path: str, request: type[RecordRequest], name: str, summary: str) -> None:
    """Route POST `path` to one command on the participant the path names.

    The writes to an existing participant differ only in path and body: FastAPI reads the
    body's type from the endpoint's annotations and the operation's id and description from
    its name and docstring, so each write gets its own endpoint function carrying them."""

    def endpoint(
        participant_id: ParticipantId,
        body: RecordRequest,
        write: Write,
    ) -> Response:
        recorded = write.execute(body.to_command(participant_id), body)
        return created(recorded)

    endpoint.__annotations__["body"] = request
    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = summary
    router.post(
        f"/{{participant_id}}/{path}",
        status_code=201,
        response_model=WriteReceipt,
        responses=WRITE_ERRORS,
    )(endpoint)


_record_write(
    "level-changes",
    LevelChangeRequest,
    "change_level",
    "Record a step-down or step-up to another level of care.",
)
_record_write(
    "sessions",
    SessionRequest,
    "record_session",
    "Record a session the participant attended or missed.",
)
_record_write(
    "screenings",
    ScreeningRequest,
    "record_screening",
    "Record a drug screen's specimen status and per-substance results.",
)
_record_write(
    "reassessments",
    ReassessmentRequest,
    "reassess",
    "Record a reassessment: six dimension ratings, recommended and decided level.",
)
_record_write(
    "discharge", DischargeRequest, "discharge", "Close the participant's current episode."
)
_record_write(
    "corrections",
    CorrectionRequest,
    "correct_entry",
    "Mark an earlier entry entered-in-error; both stay in the history.",
)
