"""The event feed for downstream services: pages, a live Server-Sent Events stream, and the
disclosure log auditors read.

Integrators receive what their consents allow (their token's `sub` is the recipient) and every
page or streamed batch is written to the disclosure log *before* it is sent; auditors and
admins see every participant event, unlogged there (they are inside the program, and their
requests are in the access line). Every response carries the Part 2 redisclosure notice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials

from api.feed.cloud_events import REDISCLOSURE_HEADER, REDISCLOSURE_NOTICE
from api.feed.events import DEFAULT_LIMIT, MAX_LIMIT, Feed, FeedPage, FeedQuery
from api.http.bounds import MAX_POSITION
from api.http.dependencies import clock, wall_clock
from api.http.reads import Purpose, PurposeOfUse, get_access_log, log_accesses
from api.schemas.feed import DisclosureBody, DisclosurePage, FeedPageBody
from api.security.authz import Action, Auditor, FeedReader, Forbidden, may
from api.security.identity import SESSION_COOKIE, Principal, bearer_scheme, principal_of
from api.security.tokens import Role
from api.storage.access_log import AccessLog
from api.storage.disclosure_log import DisclosureLog

router = APIRouter(tags=["events"])

_NOTICE = {REDISCLOSURE_HEADER: REDISCLOSURE_NOTICE}


@dataclass(frozen=True)
class StreamSettings:
    """How the SSE stream paces itself (tests shorten both)."""

    heartbeat_seconds: float = 15.0
    poll_seconds: float = 0.5
    batch: int = 500


def get_feed(request: Request) -> Feed:
    feed: Feed = request.app.state.feed
    return feed


def stream_settings(request: Request) -> StreamSettings:
    settings: StreamSettings = getattr(request.app.state, "stream_settings", StreamSettings())
    return settings


async def stream_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """A feed reader from its bearer token or, for a browser's EventSource (which cannot send
    headers), the pages' session cookie: HttpOnly and SameSite=Strict, so another site's page
    can neither read it nor make the browser send it."""
    token = credentials.credentials if credentials else request.cookies.get(SESSION_COOKIE)
    principal = await principal_of(request, token)
    if not may(principal, Action.READ_FEED):
        raise Forbidden(f"the role {principal.role} may not read feed")
    return principal


def recipient_of(principal: Principal) -> str | None:
    """Whose consents decide what the caller sees: an integrator's own; None sees everything."""
    return principal.sub if principal.role is Role.INTEGRATOR else None


_SSE_EXAMPLE = (
    "retry: 2000\n\n"
    "id: 42\n"
    "event: org.continuum.participant.session_attended.v1\n"
    'data: {"specversion":"1.0","id":"0f4a7c1e-2b3d-5e6f-8a9b-0c1d2e3f4a5b",'
    '"type":"org.continuum.participant.session_attended.v1","position":42}\n\n'
    ": heartbeat\n\n"
)

FeedDep = Annotated[Feed, Depends(get_feed)]
Now = Annotated[datetime, Depends(clock)]
After = Annotated[
    int | None, Query(ge=0, le=MAX_POSITION, description="The last position already seen")
]
Types = Annotated[
    str | None,
    Query(description="Comma-separated event types, e.g. SessionAttended,Discharged"),
]
ProgramId = Annotated[str | None, Query(max_length=200)]
# Writes the access entries of a batch of the stream read by staff, before it is sent.
LogPage = Callable[[FeedPage, datetime], None]


@router.get(
    "/v1/events",
    response_model=FeedPageBody,
    response_class=JSONResponse,
    responses={403: {"description": "The caller's role may not read the feed"}},
)
def read_events(
    request: Request,
    principal: FeedReader,
    feed: FeedDep,
    now: Now,
    access_log: Annotated[AccessLog, Depends(get_access_log)],
    purpose: Purpose = PurposeOfUse.TREAT,
    after: After = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    types: Types = None,
    program_id: ProgramId = None,
) -> JSONResponse:
    """Participant events after `after`, as CloudEvents; pass `next_after` back as `after`."""
    query = FeedQuery(after or 0, limit, FeedQuery.parse_types(types), program_id)
    recipient = recipient_of(principal)
    page = feed.read(query, recipient=recipient, now=now)
    if recipient is not None:
        feed.disclose(page, recipient, now, "feed")
    else:  # staff (admin, auditor): the page is a read of each participant it shows
        participants = (item.participant_id for item in page.items)
        log_accesses(request, access_log, principal, participants, "feed", purpose, now)
    body = {"events": [item.cloud_event() for item in page.items], "next_after": page.next_after}
    return JSONResponse(body, headers=_NOTICE)


@router.get(
    "/v1/events/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: each frame names its CloudEvent type in "
            "`event:` (use addEventListener(type), see docs/asyncapi.yaml), `id:` is the "
            "position",
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": _SSE_EXAMPLE,
                }
            },
        }
    },
)
def stream_events(
    request: Request,
    principal: Annotated[Principal, Depends(stream_reader)],
    feed: FeedDep,
    settings: Annotated[StreamSettings, Depends(stream_settings)],
    after: After = None,
    types: Types = None,
    program_id: ProgramId = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    purpose: Purpose = PurposeOfUse.TREAT,
) -> StreamingResponse:
    """Live events as Server-Sent Events: `id:` is the position, resume with Last-Event-ID."""
    start = _resume_position(last_event_id, after)
    query = FeedQuery(start, settings.batch, FeedQuery.parse_types(types), program_id)
    # A stream reads the clock at each batch, outside the dependency: the async `clock` would
    # hand back a coroutine here, so the stream uses the same wall clock, or a test's override.
    now_of: Callable[[], datetime] = request.app.dependency_overrides.get(clock, wall_clock)
    recipient = recipient_of(principal)
    log_staff_read: LogPage | None = None
    if recipient is None:  # staff: each batch sent is a read of the participants in it
        access_log: AccessLog = request.app.state.access_log

        def log_staff_read(page: FeedPage, now: datetime) -> None:
            participants = (item.participant_id for item in page.items)
            log_accesses(request, access_log, principal, participants, "stream", purpose, now)

    frames = _sse_frames(request, feed, query, recipient, now_of, settings, log_staff_read)
    headers = {**_NOTICE, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(frames, media_type="text/event-stream", headers=headers)


@router.get("/v1/audit/disclosures", response_model=DisclosurePage, tags=["audit"])
def read_disclosures(
    principal: Auditor,
    request: Request,
    recipient: Annotated[str | None, Query(max_length=200)] = None,
    participant_id: UUID | None = None,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DisclosurePage:
    """The disclosure log, oldest first: who received which participant's events, when."""
    log: DisclosureLog = get_feed(request).log
    rows = log.select(recipient=recipient, participant_id=participant_id, after=after, limit=limit)
    return DisclosurePage(
        disclosures=[DisclosureBody(**row.to_json()) for row in rows],
        next_after=rows[-1].id if rows and rows[-1].id is not None else after,
    )


def _resume_position(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is not None and last_event_id.strip().isdigit():
        return int(last_event_id.strip())
    return after or 0


async def _sse_frames(
    request: Request,
    feed: Feed,
    query: FeedQuery,
    recipient: str | None,
    now_of: Callable[[], datetime],
    settings: StreamSettings,
    log_staff_read: LogPage | None,
) -> AsyncIterator[str]:
    """Frames until the client goes away (Starlette cancels this generator then)."""
    cursor = query.after
    # Reconnecting clients wait this long (ms) before retrying.
    yield "retry: 2000\n\n"
    quiet_since = anyio.current_time()
    while not await request.is_disconnected():
        page = await anyio.to_thread.run_sync(
            _read_and_log, feed, query, cursor, recipient, now_of, log_staff_read
        )
        for item in page.items:
            yield _frame(item.position, item.cloud_event())
        if page.next_after > cursor:
            if not page.items or page.items[-1].position < page.next_after:
                # An id-only frame moves the client's Last-Event-ID past withheld events.
                yield f"id: {page.next_after}\n\n"
            cursor = page.next_after
            quiet_since = anyio.current_time()
            continue
        if anyio.current_time() - quiet_since >= settings.heartbeat_seconds:
            yield ": heartbeat\n\n"
            quiet_since = anyio.current_time()
        await anyio.sleep(settings.poll_seconds)


def _read_and_log(
    feed: Feed,
    query: FeedQuery,
    cursor: int,
    recipient: str | None,
    now_of: Callable[[], datetime],
    log_staff_read: LogPage | None,
) -> FeedPage:
    """The next batch, logged before it is sent: disclosed to a recipient, or (staff) a read
    of each participant in it; a failed access-log write ends the stream unsent."""
    now = now_of()
    page = feed.read(
        FeedQuery(cursor, query.limit, query.types, query.program_id), recipient=recipient, now=now
    )
    if recipient is not None:
        feed.disclose(page, recipient, now, "stream")
    elif log_staff_read is not None and page.items:
        log_staff_read(page, now)
    return page


def _frame(position: int, cloud_event: dict[str, Any]) -> str:
    data = json.dumps(cloud_event, separators=(",", ":"))
    return f"id: {position}\nevent: {cloud_event['type']}\ndata: {data}\n\n"
