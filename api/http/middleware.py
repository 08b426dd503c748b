"""Per-request plumbing: a request id, a body size limit, one access-log line per request.

Pure ASGI middleware (not BaseHTTPMiddleware) so the structlog context bound here reaches the
endpoint's thread, and nothing buffers responses. The access line holds ids, the route
template, status and timing: never bodies, query strings, raw paths or any free text.
"""

from __future__ import annotations

import asyncio
import re
import time
import traceback
from typing import Any
from uuid import UUID, uuid4

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.errors import internal_error, payload_too_large, problem
from api.http.metrics import Stopwatch
from api.logging import get_logger

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's request id is kept only if it looks like a trace id (hex and dashes, as UUIDs and
# W3C trace ids are): anything else could carry text we must not log, so we mint our own.
_ACCEPTED_REQUEST_ID = re.compile(r"[0-9A-Fa-f-]{16,64}")
# A UUID spelled as str(UUID(...)) spells it: logged as it is, without parsing it again.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})

log = get_logger("api.access")


class RequestContextMiddleware:
    """Binds a request id for every log line of the request, echoes it, logs the outcome."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        # The routes write notes for the access line here (Request.state shares this dict).
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id  # the access log names the request of each read
        outcome: dict[str, Any] = {"status": 500, "started": False}
        started = time.perf_counter()
        stopwatch = Stopwatch()

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                protect_json(headers)
                outcome["status"] = message["status"]
                outcome["started"] = True
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            except Exception as exc:
                # A bug, never the caller's input: log where it broke, not what it held.
                log.error("unhandled_error", request_id=request_id, **_failure_site(exc))
                if outcome["started"]:
                    raise
                await internal_error(request_id)(scope, receive, send_with_request_id)
            finally:
                stopwatch.observe(scope["method"], _route_template(scope), outcome["status"])
                log.info(
                    "request",
                    request_id=request_id,
                    method=scope["method"],
                    route=_route_template(scope),
                    status=outcome["status"],
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    participant_id=_participant_id(scope, state),
                    principal=state.get("principal_sub"),
                    error=state.get("error"),
                )


class RequestTimeoutMiddleware:
    """Answers 503 `request_timeout` when no response has started within `seconds`.

    The caller is answered and the event loop moves on; a synchronous endpoint's thread
    cannot be interrupted and finishes its (bounded) work in the background, its response
    discarded. Responses that have started (the event stream) are never cut.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # One task for the app, and one future settled by whichever comes first: the response
        # starting, the app ending, or the budget's timer. (An Event's waiter task and
        # asyncio.wait cost a second task, its cancellation and a waiter set per request.)
        loop = asyncio.get_running_loop()
        first = loop.create_future()
        started = False

        def settle(_: object = None) -> None:
            if not first.done():
                first.set_result(None)

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                settle()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, watch))
        task.add_done_callback(settle)
        timer = loop.call_later(self.seconds, settle)
        try:
            await first
        finally:
            timer.cancel()
        if task.done() or started:
            await task  # finished, or streaming: it runs to its own end
            return
        task.cancel()
        state = scope.get("state", {})
        state["error"] = "request_timeout"
        await problem(
            503,
            "request_timeout",
            f"the request was not answered within {self.seconds:g} s; a write may still be "
            "recorded: retry with the same Idempotency-Key to find out",
            request_id=state.get("request_id"),
            headers={"Retry-After": "2"},
        )(scope, receive, send)


class BodySizeLimitMiddleware:
    """Answers 413 once a body passes `max_body_bytes`, before anything parses it."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODYLESS_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await payload_too_large(self.max_body_bytes, scope.get("state", {}).get("request_id"))(
                scope, receive, send
            )
            return
        # Read the whole (small, bounded) body now: a limit hit midway through the framework's
        # own read would surface as a generic 400 instead of 413.
        body = bytearray()
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await payload_too_large(
                    self.max_body_bytes, scope.get("state", {}).get("request_id")
                )(scope, receive, send)
                return
            more_body = message.get("more_body", False)
        await self.app(scope, _replay(bytes(body), receive), send)


def protect_json(headers: MutableHeaders) -> None:
    """JSON answers hold participants' records: no cache (shared or the browser's) may keep a
    copy (HIPAA 45 CFR 164.312(a)(1), access control; OWASP ASVS 8.2.1), and no browser may
    sniff one into another type (OWASP Secure Headers: X-Content-Type-Options)."""
    if "json" in headers.get("content-type", ""):
        headers["Cache-Control"] = "no-store"
        headers["X-Content-Type-Options"] = "nosniff"


def note_participant(state: Any, participant_id: UUID) -> None:
    """Names the participant in the access line when the path does not (an admission)."""
    state.participant_id = str(participant_id)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _ACCEPTED_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid4().hex


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _route_template(scope: Scope) -> str | None:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


def _participant_id(scope: Scope, state: dict[str, Any]) -> str | None:
    noted = state.get("participant_id")
    if isinstance(noted, str):
        return noted
    raw = scope.get("path_params", {}).get("participant_id")
    if raw is None:
        return None
    if isinstance(raw, str) and _CANONICAL_UUID.fullmatch(raw):  # as clients send them
        return raw
    try:
        return str(UUID(str(raw)))
    except ValueError:
        return None  # a malformed id may be any text the caller typed: not logged


def _failure_site(exc: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    site = frames[-1] if frames else None
    return {
        "error_type": type(exc).__qualname__,
        "where": f"{site.filename}:{site.lineno} in {site.name}" if site else None,
    }
