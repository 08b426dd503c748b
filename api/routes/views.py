"""The read side: compliance and caseload from the view tables, and each program's policy.

Reads never replay a participant's stream: one view row per participant holds the folded facts,
judged as of the requested date. `?min_position=` (a write's `position`) waits briefly for the
views to include that write, else 503 with Retry-After.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.http.bounds import MAX_CASELOAD_ROWS, MAX_POSITION, QueryDate
from api.http.dependencies import Application, clock
from api.http.direct import DirectRoute
from api.http.errors import ViewsBehind
from api.http.middleware import note_participant
from api.http.reads import (
    LoggedRead,
    Purpose,
    PurposeOfUse,
    RecordRead,
    get_access_log,
    log_accesses,
)
from api.http.timeline_cache import ComplianceCache
from api.schemas.participants import ErrorBody
from api.schemas.views import (
    CaseloadRowBody,
    CaseloadView,
    ComplianceView,
    PolicyChangeBody,
    PolicyChangeRequest,
    PolicyReceipt,
    PolicyView,
)
from api.security.authz import PolicyChanger, PolicyReader, Reader, check_program, visible_programs
from api.security.identity import Principal
from api.storage.access_log import AccessLog
from api.storage.read_gate import GateAnswer, GateLooks, PostgresReadGate
from api.storage.views import Views
from domain.application import ContinuumApplication
from domain.commands import ChangePolicy
from domain.errors import InvalidValue, ParticipantNotFound
from domain.participant import Participant
from domain.policy import PolicyTimeline, ProgramPolicy
from domain.program import program_stream_id
from projections.queries import TooManyRows
from projections.weeks import local_date

# The hot reads are served by DirectRoute's handler (api.http.direct says which and why).
router = APIRouter(tags=["views"], route_class=DirectRoute)

# How long a read waits for the views to reach `min_position` before answering 503.
READ_YOUR_WRITES_TIMEOUT_SECONDS = 2.0

ProgramId = Annotated[str, Path(min_length=1, max_length=200, description="The program's id")]
AsOf = Annotated[
    QueryDate | None,
    Query(
        description="Judge rules as of the end of this day (default today, UTC); from "
        "1900-01-01 to a year after today"
    ),
]
MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description="A write's `position`: wait briefly until the views include it",
    ),
]


class CaseloadStatus(StrEnum):
    ACTIVE = "active"
    DISCHARGED = "discharged"


async def get_views(request: Request) -> Views:
    """The views the app factory opened."""
    # async: a lookup that never blocks; a plain def would cost a threadpool hop per request.
    views: Views = request.app.state.views
    return views


ViewsDep = Annotated[Views, Depends(get_views)]
Now = Annotated[datetime, Depends(clock)]

_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "Malformed input; `field` names it"},
}
_BEHIND: dict[int | str, dict[str, Any]] = {
    **_INVALID,
    503: {"model": ErrorBody, "description": "The views have not reached `min_position` yet"},
}


def _reached(views: Views, min_position: int | None) -> int:
    """The views' position, once it is at least `min_position` (else ViewsBehind)."""
    if min_position is not None and not views.runner.wait_for(
        min_position, READ_YOUR_WRITES_TIMEOUT_SECONDS
    ):
        raise ViewsBehind(min_position, views.store.position())
    return views.store.position()


@dataclass(frozen=True)
class ComplianceRead(RecordRead):
    """A logged read of the compliance report, with the versions its body is kept under."""

    position: int  # the views' position, read after the access entry was committed
    policy_version: int  # the program policy's stream version, read after that

    @classmethod
    def of(cls, read: RecordRead, position: int, policy_version: int) -> ComplianceRead:
        shared = {field.name: getattr(read, field.name) for field in fields(RecordRead)}
        return cls(**shared, position=position, policy_version=policy_version)


class LoggedComplianceRead(LoggedRead):
    """LoggedRead, then the views' position and the policy's version in the same thread.

    These two selects made the compliance endpoint a sync one: a second threadpool hand-off
    per read, after the access-logged read's own. Read here, a cached report is served by
    an async endpoint with no hand-off of its own."""

    def then(
        self, request: Request, application: ContinuumApplication, read: RecordRead
    ) -> ComplianceRead:
        views: Views = request.app.state.views
        program_id = read.participant.program_id
        kept = application.kept_policy_version(program_id)
        if kept is None:  # the program's first read here: its policy is loaded
            position = views.store.position()
            policy_version = application.policy_version(program_id)
        else:  # both looks in one round trip (on PostgreSQL)
            position, grown = views.position_and_growth(program_stream_id(program_id), kept)
            unchanged_since = None if grown else kept
            policy_version = application.policy_version(program_id, unchanged_since=unchanged_since)
        return ComplianceRead.of(read, position, policy_version)

    def gate_looks(
        self, gate: PostgresReadGate, application: ContinuumApplication, participant: Participant
    ) -> GateLooks | None:
        kept = application.kept_policy_version(participant.program_id)
        if kept is None or not gate.looks_at_views:  # the threaded path loads the policy
            return None
        return GateLooks(views=True, policy=(program_stream_id(participant.program_id), kept))

    async def from_gate(
        self, request: Request, application: ContinuumApplication, read: RecordRead,
        answer: GateAnswer,
    ) -> ComplianceRead:  # fmt: skip
        views: Views = request.app.state.views
        program_id = read.participant.program_id
        if answer.grown or answer.policy is None:  # the policy changed: load it (a look)
            policy_version = await run_in_threadpool(application.policy_version, program_id)
        else:  # the version kept when the statement began is current: no look
            kept = answer.policy[1]
            policy_version = application.policy_version(program_id, unchanged_since=kept)
        return ComplianceRead.of(read, views.store.position_in(answer.tracked), policy_version)


@router.get(
    "/v1/participants/{participant_id}/compliance",
    response_model=ComplianceView,
    responses={404: {"model": ErrorBody, "description": "No such participant"}, **_BEHIND},
)
async def get_compliance(
    read: Annotated[ComplianceRead, Depends(LoggedComplianceRead("compliance"))],
    request: Request,
    as_of: AsOf = None,
    min_position: MinPosition = None,
) -> Response:
    """Weekly structured hours and compliance findings, as of a date, from the views."""
    participant_id = read.participant.id  # the path's, read and validated by LoggedRead
    note_participant(request.state, participant_id)
    # The app factory's views and cache, and the read's application and time: looked up, not
    # depended on (each dependency node costs every request FastAPI's solving; RecordRead).
    views: Views = request.app.state.views
    cache: ComplianceCache = request.app.state.compliance_cache
    application, now = read.application, read.now
    # Includes every write acknowledged before this read began: the participant was loaded,
    # current with the store, by LoggedRead; a view row behind that version is caught up here.
    position, policy_version = read.position, read.policy_version
    if min_position is not None:
        views.runner.wake()  # as waiting would: the views look for new events now
        if position < min_position:  # wait in the threadpool, then read both versions again
            position, policy_version = await run_in_threadpool(
                _reached_versions, views, application, min_position, read.participant.program_id
            )
    # Without a date, "as of" is today in the program's own zone (the end of that local day).
    # Every zone's current UTC offset is a whole number of quarter hours, so the local day is
    # the same throughout an aligned quarter hour of UTC: the moment (and the cache key) is
    # that quarter hour's start, and the cached body stays right for every zone.
    day = as_of or now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    # The report (`ComplianceView`, as documented) is a function of the view row, the day and
    # the program's policy. The row changes only as the views' position moves, and with the
    # participant's stream; the policy with its own stream. A body rendered under the same
    # three versions is the same body, so it is served as bytes without re-judging the row:
    # async, a cached body costs no threadpool hop; only a rendering (reads the views) does.
    version = (position, read.participant.version, policy_version)
    body = cache.get((participant_id, day), version)
    if body is None:
        body = await run_in_threadpool(
            _render_compliance, views, cache, participant_id, day, version, position
        )
    return Response(content=body, media_type="application/json")


def _reached_versions(
    views: Views, application: ContinuumApplication, min_position: int, program_id: str
) -> tuple[int, int]:
    """The views' position once it reaches `min_position` (else ViewsBehind), and the
    policy's version read after it."""
    position = _reached(views, min_position)
    return position, application.policy_version(program_id)


def _render_compliance(
    views: Views,
    cache: ComplianceCache,
    participant_id: UUID,
    day: datetime | date,
    version: tuple[int, int, int],
    position: int,
) -> bytes:
    """The compliance report's body, judged from the view row, and kept under `version`."""
    report = views.queries.compliance(str(participant_id), day, version[1])
    if report is None:
        raise ParticipantNotFound(f"no participant {participant_id}")
    body = ComplianceView.of(report, position).model_dump_json().encode()
    cache.put((participant_id, day), version, body)
    return body


@router.get("/v1/participants", response_model=CaseloadView, responses=_BEHIND)
def get_caseload(
    request: Request,
    principal: Reader,
    views: ViewsDep,
    application: Application,
    now: Now,
    access_log: Annotated[AccessLog, Depends(get_access_log)],
    purpose: Purpose = PurposeOfUse.TREAT,
    program_id: Annotated[str | None, Query(max_length=200)] = None,
    level: Annotated[str | None, Query(max_length=16)] = None,
    status: CaseloadStatus | None = None,
    as_of: AsOf = None,
    min_position: MinPosition = None,
) -> CaseloadView:
    """Active (or discharged) participants with level, weeks in program and open findings."""
    position = _reached(views, min_position)
    day = as_of or local_date(now, application.default_timezone)
    try:
        rows = views.queries.caseload(
            program_ids=_visible_programs(principal, program_id),
            level=level,
            status=None if status is None else status.value,
            as_of=day,
            max_rows=MAX_CASELOAD_ROWS,
        )
    except TooManyRows as too_many:
        detail = f"{too_many}; narrow the read by program_id, level or status"
        raise InvalidValue("program_id", detail) from None
    # Every participant listed is a read of their record: logged before it is served.
    log_accesses(
        request, access_log, principal, (r.participant_id for r in rows), "caseload", purpose, now
    )
    return CaseloadView(
        as_of=day, position=position, participants=[CaseloadRowBody.of(r) for r in rows]
    )


def _visible_programs(principal: Principal, program_id: str | None) -> list[str] | None:
    """The programs to list: the one asked for (403 if the caller is not scoped to it), else
    every program the caller sees (a clinician's own; None: all)."""
    if program_id is not None:
        check_program(principal, program_id)
        return [program_id]
    own = visible_programs(principal)
    return None if own is None else sorted(own)


@router.get("/v1/programs/{program_id}/policy", response_model=PolicyView, responses=_INVALID)
def get_policy(
    program_id: ProgramId, principal: PolicyReader, application: Application
) -> PolicyView:
    """The program's compliance policy in force now, and every recorded change."""
    return _policy_view(program_id, application.policy_timeline(program_id))


@router.put("/v1/programs/{program_id}/policy", response_model=PolicyReceipt, responses=_INVALID)
def change_policy(
    program_id: ProgramId,
    body: PolicyChangeRequest,
    principal: PolicyChanger,
    application: Application,
    now: Now,
) -> PolicyReceipt:
    """Change some policy settings from now on (never retroactively); others stay as they are."""
    # As stored: a program without a zone keeps following the service's, whatever else changes.
    current = _latest(application.policy_timeline(program_id, as_stored=True)).to_dict()
    merged = {**current, **body.settings()}
    recorded = application.execute(
        ChangePolicy(program_id=program_id, policy=merged), recorded_by=principal.sub, now=now
    )
    return PolicyReceipt(
        program_id=program_id,
        version=recorded.version,
        position=recorded.position,
        effective_from=now,
        policy=merged,
    )


def _latest(timeline: PolicyTimeline) -> ProgramPolicy:
    return timeline.changes[-1][1] if timeline.changes else timeline.initial


def _policy_view(program_id: str, timeline: PolicyTimeline) -> PolicyView:
    return PolicyView(
        program_id=program_id,
        policy=_latest(timeline).to_dict(),
        history=[
            PolicyChangeBody(effective_from=moment, policy=policy.to_dict())
            for moment, policy in timeline.changes
        ],
    )
