"""Reads of a participant's record: authorised, scoped, and written to the access log first.

`LoggedRead("timeline")` is the dependency every route reading one participant's record takes.
It resolves, in order: the caller (401), its role (403), the purpose of use (422), the
participant and the caller's program scope (404), and then appends the access entry. Only when
that entry is committed does the route run: a failed write answers 503, never an unlogged read.

Two paths do this work. On PostgreSQL, a participant this process has cached is checked against
the caller's scope as cached, then logged and confirmed current in one statement on the event
loop (api.storage.read_gate): the entry is written only if the stream is still at the cached
version. Every other read (not cached, moved on, out of scope as cached, the statement failed,
SQLite, memory) runs in one threadpool hand-off: a fresh look at the store, the scope check,
the access log's group commit. Both answer the same and log the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from api.http.dependencies import request_time
from api.http.openapi import reads_from_request
from api.schemas.participants import ErrorBody
from api.security.authz import Action, authorized, check_participant, sees_program
from api.security.identity import BEARER_REQUIREMENT, Principal
from api.storage.access_log import AccessEntry, AccessLog
from api.storage.read_gate import GateAnswer, GateLooks, PostgresReadGate
from domain.application import ContinuumApplication
from domain.participant import Participant

PURPOSE_HEADER = "X-Purpose-Of-Use"
log = structlog.get_logger(__name__)

# Documented on every route that takes LoggedRead.
LOGGED_READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "The access log could not be written; not served"},
}


class PurposeOfUse(StrEnum):
    """HL7 v3 PurposeOfUse codes a reader may declare (X-Purpose-Of-Use, default TREAT)."""

    TREAT = "TREAT"  # treatment
    ETREAT = "ETREAT"  # emergency treatment
    COC = "COC"  # coordination of care
    HPAYMT = "HPAYMT"  # payment
    HOPERAT = "HOPERAT"  # healthcare operations
    PUBHLTH = "PUBHLTH"  # public health
    HRESCH = "HRESCH"  # research
    HLEGAL = "HLEGAL"  # legal
    PATRQT = "PATRQT"  # the patient's own request


# The declared purpose of a read (HL7 PurposeOfUse), TREAT when the header is absent.
_PURPOSE_DESCRIPTION = "Why the record is read (HL7 PurposeOfUse)"
Purpose = Annotated[PurposeOfUse, Header(alias=PURPOSE_HEADER, description=_PURPOSE_DESCRIPTION)]

# The path parameter and the header as LoggedRead documents them (`reads_from_request`): it
# reads both from the request itself (`read_values`, after authenticating the caller, as
# FastAPI validated them after the dependencies) rather than declaring FastAPI parameters,
# which FastAPI looked up and validated on every record read (docs/performance.md, "Write
# dependencies"). Spelled as FastAPI spelled them.
PARTICIPANT_ID_DESCRIPTION = "The participant's id (a UUID)"  # api.routes.ParticipantId's too
PARTICIPANT_ID_PARAMETER: dict[str, Any] = {
    "name": "participant_id",
    "in": "path",
    "required": True,
    "description": PARTICIPANT_ID_DESCRIPTION,
    "schema": {
        "type": "string",
        "format": "uuid",
        "description": PARTICIPANT_ID_DESCRIPTION,
        "title": "Participant Id",
    },
}
PURPOSE_PARAMETER: dict[str, Any] = {
    "name": PURPOSE_HEADER,
    "in": "header",
    "required": False,
    "description": _PURPOSE_DESCRIPTION,
    "schema": {
        "$ref": "#/components/schemas/PurposeOfUse",
        "description": _PURPOSE_DESCRIPTION,
        "default": PurposeOfUse.TREAT.value,
    },
}
_PARTICIPANT_ID = TypeAdapter(UUID)
_PURPOSE = TypeAdapter(PurposeOfUse)


def read_values(request: Request) -> tuple[UUID, PurposeOfUse]:
    """The participant id the path names and the purpose the request declares (TREAT when it
    declares none). Invalid ones are refused as FastAPI refuses declared parameters, by the
    same validators: 422 invalid_request with pydantic's messages, each naming its field."""
    errors: list[dict[str, Any]] = []
    participant_id = _validated(
        _PARTICIPANT_ID, request.path_params.get("participant_id"), ("path", "participant_id"),
        errors,
    )  # fmt: skip
    declared = request.headers.get(PURPOSE_HEADER)
    purpose = (
        PurposeOfUse.TREAT
        if declared is None
        else _validated(_PURPOSE, declared, ("header", PURPOSE_HEADER), errors)
    )
    if errors:
        raise RequestValidationError(errors)
    return participant_id, purpose


def _validated(
    adapter: TypeAdapter[Any], value: object, at: tuple[str, str], errors: list[dict[str, Any]]
) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as refused:
        errors += [{**e, "loc": (*at, *e["loc"])} for e in refused.errors()]
        return None


@dataclass(frozen=True)
class RecordRead:
    """A read the caller may make and that is already in the access log.

    `participant` is the shared cached state (see `peek_participant`): read its program and
    version, never mutate it. A route takes the application and the time from here rather than
    depending on them again: each dependency node costs every request FastAPI's solving.
    """

    principal: Principal
    participant: Participant
    entry: AccessEntry
    application: ContinuumApplication  # the one the read was made from
    now: datetime  # when it was made (the `clock` dependency), as its entry says


async def get_access_log(request: Request) -> AccessLog:
    """The access log the app factory opened."""
    # async: a lookup that never blocks; a plain def would cost a threadpool hop per request.
    access_log: AccessLog = request.app.state.access_log
    return access_log


@reads_from_request(PARTICIPANT_ID_PARAMETER, PURPOSE_PARAMETER, security=[BEARER_REQUIREMENT])
class LoggedRead:
    """A dependency for routes that read one participant's record (`record` names what)."""

    def __init__(self, record: str) -> None:
        self.record = record

    async def __call__(self, request: Request) -> RecordRead:
        # async: with the participant cached and PostgreSQL behind, the read is logged and its
        # freshness confirmed in one statement on the event loop (api.storage.read_gate); any
        # other read takes one threadpool hand-off for the same work done in a thread.
        # The caller, the path's id and the purpose are read here, and the application and the
        # access log looked up, rather than declared as parameters and dependencies: each
        # costs every record read FastAPI's solving (see RecordRead and PARTICIPANT_ID_PARAMETER).
        now = await request_time(request)  # first, as the `clock` dependency it replaces was
        principal = await authorized(request, Action.READ_RECORD)  # 401, 403 come first
        participant_id, purpose = read_values(request)
        application: ContinuumApplication = request.app.state.application
        access_log: AccessLog = request.app.state.access_log
        gate: PostgresReadGate | None = getattr(request.app.state, "read_gate", None)
        if gate is not None and gate.access_log is access_log:  # it writes to that log
            read = await self._through_gate(
                gate, request, participant_id, principal, application, purpose, now
            )
            if read is not None:
                return read
        return await run_in_threadpool(
            self._in_thread, request, participant_id, principal, application, access_log,
            now, purpose,
        )  # fmt: skip

    def gate_looks(
        self, gate: PostgresReadGate, application: ContinuumApplication, participant: Participant
    ) -> GateLooks | None:
        """What this read asks the gate besides its entry; None: it takes the threaded path
        (a subclass that reads more in `then` and has no `from_gate` of its own)."""
        return GateLooks() if type(self).then is LoggedRead.then else None

    async def from_gate(
        self, request: Request, application: ContinuumApplication, read: RecordRead,
        answer: GateAnswer,
    ) -> RecordRead:  # fmt: skip
        """The read, once the gate logged it (what `then` is to the threaded path)."""
        return read

    async def _through_gate(
        self,
        gate: PostgresReadGate,
        request: Request,
        participant_id: UUID,
        principal: Principal,
        application: ContinuumApplication,
        purpose: PurposeOfUse,
        now: datetime,
    ) -> RecordRead | None:
        """The read, logged, if the cached participant is current and the caller sees it;
        None when the threaded path must decide (not cached, moved on, not in the caller's
        scope as cached, or the statement failed): nothing was logged then."""
        participant = application.cached_participant(participant_id)
        if participant is None or not sees_program(principal, participant.program_id):
            return None
        looks = self.gate_looks(gate, application, participant)
        if looks is None:
            return None
        version = participant.version
        [entry] = access_entries(request, principal, [participant_id], self.record, purpose, now)
        try:
            answer = await gate.log_if_current(entry, version, looks)
        except Exception as error:
            # The threaded path decides, with the pool's own connections: a read is refused
            # (503) only when the access log cannot be written there either.
            log.warning("read_gate_failed", error=type(error).__qualname__)
            return None
        if answer is None:
            return None
        read = RecordRead(principal, participant, answer.entry, application, now)
        return await self.from_gate(request, application, read, answer)

    def _in_thread(
        self,
        request: Request,
        participant_id: UUID,
        principal: Principal,
        application: ContinuumApplication,
        access_log: AccessLog,
        now: datetime,
        purpose: PurposeOfUse,
    ) -> RecordRead:
        participant = application.peek_participant(participant_id)
        check_participant(principal, participant)
        entry = log_access(
            request, access_log, principal, participant_id, self.record, purpose, now
        )
        read = RecordRead(principal, participant, entry, application, now)
        return self.then(request, application, read)

    def then(
        self, request: Request, application: ContinuumApplication, read: RecordRead
    ) -> RecordRead:
        """What the route also reads, once the entry is committed, in this dependency's thread.

        A route that reads the store before it can answer overrides this rather than reading
        in a sync endpoint: that would be a second threadpool hand-off per read."""
        return read


def log_access(
    request: Request,
    access_log: AccessLog,
    principal: Principal,
    participant_id: UUID,
    record: str,
    purpose: PurposeOfUse,
    now: datetime,
) -> AccessEntry:
    """Append the access entry of a read of `record`; raises AccessLogUnavailable (503)."""
    [entry] = log_accesses(request, access_log, principal, [participant_id], record, purpose, now)
    return entry


def log_accesses(
    request: Request,
    access_log: AccessLog,
    principal: Principal,
    participant_ids: Iterable[UUID | str],
    record: str,
    purpose: PurposeOfUse,
    now: datetime,
) -> list[AccessEntry]:
    """The entries of one read: one per participant it shows (a caseload or a feed page shows
    several), all written in one transaction before it is served (HIPAA 45 CFR 164.312(b)
    audit controls record each disclosure of a record, lists included)."""
    entries = access_entries(request, principal, participant_ids, record, purpose, now)
    if len(entries) == 1:  # one record: the log's group commit
        return [access_log.append(entries[0])]
    return access_log.append_all(entries)


def access_entries(
    request: Request,
    principal: Principal,
    participant_ids: Iterable[UUID | str],
    record: str,
    purpose: PurposeOfUse,
    now: datetime,
) -> list[AccessEntry]:
    """The access entries of one read, one per participant it shows, not yet written."""
    return [
        AccessEntry(
            at=now,
            sub=principal.sub,
            role=principal.role.value,
            participant_id=participant_id,
            record=record,
            endpoint=_route_template(request),
            purpose=purpose.value,
            request_id=getattr(request.state, "request_id", None),
        )
        # Ids that are UUIDs already (a record read's) are not spelled out and parsed again.
        for participant_id in dict.fromkeys(
            p if isinstance(p, UUID) else UUID(str(p)) for p in participant_ids
        )
    ]


def _route_template(request: Request) -> str:
    path = getattr(request.scope.get("route"), "path", None)
    return path if isinstance(path, str) else request.url.path
