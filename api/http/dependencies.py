"""What the routes depend on: the application, the clock, and a write's preconditions."""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from api.http.errors import IDEMPOTENCY_KEY_HEADER, IF_MATCH_HEADER
from api.http.openapi import optional_header, reads_from_request
from api.schemas.participants import CommandRequest
from api.security.authz import Action, authorized, check_participant, visible_programs
from api.security.identity import BEARER_REQUIREMENT, Principal
from domain.application import ContinuumApplication
from domain.commands import ParticipantCommand, Recorded
from domain.errors import InvalidValue
from domain.participant import Participant
from domain.service.idempotency import IdempotencyKey

# `"7"` as ETags are spelled, or a bare `7`; weak tags and `*` have no meaning for a stream.
_IF_MATCH = re.compile(r'\s*(?:"(\d{1,15})"|(\d{1,15}))\s*')
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


async def get_application(request: Request) -> ContinuumApplication:
    """The one application the app factory opened."""
    # async: a lookup that never blocks; a plain def would cost a threadpool hop per request.
    application: ContinuumApplication = request.app.state.application
    return application


def wall_clock() -> datetime:
    """The time now, for code that reads it outside a dependency (the SSE stream's batches)."""
    return datetime.now(UTC)


async def clock() -> datetime:
    """When a command is recorded (tests override this dependency)."""
    # async for the same reason as get_application.
    return wall_clock()


async def request_time(request: Request) -> datetime:
    """`clock`'s time, for a dependency that reads it itself rather than depending on it (one
    node less of FastAPI's solving per request; RecordRead), a test's override honoured."""
    # The same lookup as the event stream's (api.routes.events); an override may be async.
    now = request.app.dependency_overrides.get(clock, wall_clock)()
    return await now if inspect.isawaitable(now) else now  # type: ignore[no-any-return]


def expected_version(if_match: str | None) -> int | None:
    """The stream version named by an If-Match header, if the caller sent one."""
    if if_match is None:
        return None
    match = _IF_MATCH.fullmatch(if_match)
    if match is None:
        raise InvalidValue(IF_MATCH_HEADER, 'must be a stream version such as "7"')
    return int(match.group(1) or match.group(2))


@dataclass(frozen=True)
class WriteContext:
    """Who writes, when, and the caller's If-Match and Idempotency-Key, for one command."""

    recorded_by: str
    now: datetime
    expected_version: int | None
    idempotency_key: str | None  # already scoped to the principal
    # Method, route and canonical path parameters, hashed with the body under an
    # Idempotency-Key; without a key nothing reads it, and it is left empty.
    request_line: str
    principal: Principal  # role and programs: admissions check the program they name
    application: ContinuumApplication  # the app factory's, so a write route needs no node for it

    def execute(self, command: ParticipantCommand, body: CommandRequest) -> Recorded:
        """Record `command` (built from `body`) as this request's caller, at its time, with
        its If-Match and Idempotency-Key."""
        return self.application.execute(
            command,
            recorded_by=self.recorded_by,
            now=self.now,
            expected_version=self.expected_version,
            idempotency=self._idempotency(body),
            check=self._scope_check(),
        )

    def _scope_check(self) -> Callable[[Participant], None] | None:
        """A participant of a program the caller cannot see answers 404, as a missing one does.

        Checked by the write engine on the participant the command is applied to (current, or
        the save fails and it is re-read), so a write costs no separate read for it."""
        if visible_programs(self.principal) is None:
            return None
        return partial(check_participant, self.principal)

    def _idempotency(self, body: CommandRequest) -> IdempotencyKey | None:
        if self.idempotency_key is None:
            return None
        # The validated body, canonically spelled: key order and whitespace do not matter.
        canonical = json.dumps(body.canonical(), sort_keys=True, separators=(",", ":"))
        request = f"{self.request_line}\n{canonical}"
        return IdempotencyKey(self.idempotency_key, hashlib.sha256(request.encode()).hexdigest())


@reads_from_request(
    optional_header(
        IDEMPOTENCY_KEY_HEADER,
        "Chosen by the caller (1-255 visible ASCII characters) to retry a write safely: a "
        "retry with the same key and body answers the first response again; the same key "
        "with another body is 422",
        example="3f1c9b2e-session-2026-02-03",
    ),
    optional_header(
        IF_MATCH_HEADER,
        'The stream version the write expects, as the ETag spells it ("7"); a stale one '
        "answers 412 with the current ETag",
        example='"7"',
    ),
    security=[BEARER_REQUIREMENT],
)
async def write_context(request: Request) -> WriteContext:
    """The preconditions and provenance of a write request (the caller's program scope is
    checked as the command is applied: WriteContext.execute).

    The caller is authenticated here and its headers read here (documented by
    `reads_from_request`) rather than declared as dependencies and parameters, and the
    application is looked up here: each parameter and node cost every write FastAPI's solving
    (docs/performance.md, "Write dependencies")."""
    # async: it parses headers and the path, never blocks; a plain def cost every write a
    # threadpool hop of its own (the write's endpoint is the one hop that does I/O).
    now = await request_time(request)  # first, as the `clock` dependency it replaces was
    principal = await authorized(request, Action.WRITE_RECORD)  # 401, 403 before the rest
    headers = request.headers
    version = expected_version(headers.get(IF_MATCH_HEADER))
    idempotency_key = headers.get(IDEMPOTENCY_KEY_HEADER)
    scoped_key = None
    if idempotency_key is not None:
        if _IDEMPOTENCY_KEY.fullmatch(idempotency_key) is None:
            raise InvalidValue(IDEMPOTENCY_KEY_HEADER, "must be 1 to 255 visible ASCII characters")
        # Keys are the caller's own: two callers choosing the same key never collide.
        scoped_key = f"{principal.sub}:{idempotency_key}"
    return WriteContext(
        recorded_by=principal.sub,
        now=now,
        expected_version=version,
        idempotency_key=scoped_key,
        request_line="" if scoped_key is None else _request_line(request),
        principal=principal,
        application=request.app.state.application,
    )


def _request_line(request: Request) -> str:
    """The method, route template and path parameters, with ids in one canonical spelling."""
    # The raw path only when no route matched: building request.url for a default that is
    # rarely used showed in a write's profile (URL parsing, ~0.4% of its samples).
    template = getattr(request.scope.get("route"), "path", None)
    if template is None:
        template = request.url.path
    params = " ".join(
        f"{name}={_canonical_id(value)}" for name, value in sorted(request.path_params.items())
    )
    return f"{request.method} {template} {params}".rstrip()


def _canonical_id(value: object) -> str:
    try:
        return str(UUID(str(value)))
    except ValueError:
        return str(value)


Application = Annotated[ContinuumApplication, Depends(get_application)]
Write = Annotated[WriteContext, Depends(write_context)]
