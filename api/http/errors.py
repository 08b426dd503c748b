"""The one place where errors become HTTP responses: RFC 9457 problem details.

Domain families map by meaning: a malformed value 422, a rule the history forbids 409, an
unknown participant 404, a stale If-Match 412 (409 when the caller sent none), a reused
Idempotency-Key 422. Every body is `application/problem+json` with `type`
(`urn:continuum:problem:<error>`), `title`, `status`, `detail`, and the members clients
already read: `error` (a stable id), `field` (422) and `request_id` (also the X-Request-ID
header). Details are for the caller only: they may quote its input, so they are never logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.http.metrics import ACCESS_LOG_FAILURES, STORE_ERRORS
from api.logging import get_logger
from api.security.auth_limits import TooManyFailedAuthentications
from api.security.authz import Forbidden
from api.security.tokens import InvalidToken, TokenKeysUnavailable
from api.storage.access_log import AccessLogUnavailable
from domain.errors import (
    DomainError,
    IdempotencyKeyReused,
    InvalidValue,
    ParticipantNotFound,
    RuleViolation,
    VersionConflict,
)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:continuum:problem:"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IF_MATCH_HEADER = "If-Match"
# Where in the request a validation error sits; the field name alone is what callers need.
log = get_logger(__name__)
_LOCATION_PARTS = frozenset({"body", "path", "query", "header", "cookie"})
# A client told to retry after this many seconds finds a restarted database (or a dropped
# connection replaced by the pool) answering again in the common case.
STORE_RETRY_AFTER_SECONDS = 2
# The store's failures that pass with time (it is down, restarting, or the pool has no
# connection to give within its timeout): 503, never 500. A write that meets one was either
# committed or not; the same Idempotency-Key on the retry returns its receipt if it was.
STORE_OUTAGES: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
_HTTP_ERROR_IDS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


class ViewsBehind(Exception):
    """The views have not reached the position a read asked for (`?min_position=`)."""

    def __init__(self, wanted: int, reached: int, retry_after_seconds: int = 1) -> None:
        super().__init__(f"views at position {reached}, {wanted} asked for")
        self.wanted = wanted
        self.reached = reached
        self.retry_after_seconds = retry_after_seconds


def etag(version: int) -> str:
    """The strong entity tag of a participant's stream version."""
    return f'"{version}"'


def install_error_handlers(app: FastAPI) -> None:
    """Register the mappings on `app`."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(InvalidToken, _invalid_token)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(AccessLogUnavailable, _access_log_unavailable)
    app.add_exception_handler(ViewsBehind, _views_behind)
    app.add_exception_handler(TooManyFailedAuthentications, _too_many_failures)
    app.add_exception_handler(TokenKeysUnavailable, _token_keys_unavailable)
    for outage in STORE_OUTAGES:
        app.add_exception_handler(outage, _store_unavailable)
    # The library raises a bare PersistenceError for a driver error it has no class for.
    app.add_exception_handler(PersistenceError, _persistence_error)


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem(
    status: int,
    error: str,
    detail: str,
    *,
    request_id: str | None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    """An RFC 9457 problem details response; `extra` adds members (`field`, `errors`, ...)."""
    body = {
        "type": f"{PROBLEM_TYPE_PREFIX}{error}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "error": error,
        **extra,
        "request_id": request_id,
    }
    return ProblemResponse(body, status, headers=headers)


def error_response(
    request: Request,
    status: int,
    error: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    """The problem response of a request (its id from the request context middleware)."""
    request_id = getattr(request.state, "request_id", None)
    return problem(status, error, detail, request_id=request_id, headers=headers, **extra)


def payload_too_large(limit: int, request_id: str | None) -> ProblemResponse:
    return problem(
        413,
        "payload_too_large",
        f"the request body must be at most {limit} bytes",
        request_id=request_id,
    )


def internal_error(request_id: str) -> ProblemResponse:
    """The last resort for a bug: says nothing of the cause, names the request to look up."""
    return problem(
        500,
        "internal_error",
        "an unexpected error occurred; quote the request id when reporting it",
        request_id=request_id,
        headers={"X-Request-ID": request_id},
    )


def _domain_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DomainError)
    _note_refusal(request, exc.rule)
    if isinstance(exc, InvalidValue):
        # Some refusals list the accepted values (e.g. the feed's `types`).
        valid = getattr(exc, "valid", None)
        extra = {"valid": valid} if valid else {}
        return error_response(request, 422, exc.rule, exc.detail, field=exc.field, **extra)
    if isinstance(exc, IdempotencyKeyReused):
        return error_response(request, 422, exc.rule, exc.detail, field=IDEMPOTENCY_KEY_HEADER)
    if isinstance(exc, ParticipantNotFound):
        return error_response(request, 404, exc.rule, exc.detail)
    if isinstance(exc, VersionConflict):
        return _version_conflict(request, exc)
    if isinstance(exc, RuleViolation):
        return error_response(request, 409, exc.rule, exc.detail)
    # A DomainError outside the known families is still a refusal of well-formed input.
    return error_response(request, 409, exc.rule, exc.detail)


def _version_conflict(request: Request, exc: VersionConflict) -> ProblemResponse:
    conditional = IF_MATCH_HEADER in request.headers
    headers = (
        {"ETag": etag(exc.current_version)}
        if conditional and exc.current_version is not None
        else None
    )
    return error_response(
        request,
        412 if conditional else 409,
        exc.rule,
        exc.detail,
        headers=headers,
        current_version=exc.current_version,
    )


def _views_behind(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, ViewsBehind)
    _note_refusal(request, "views_behind")
    return error_response(
        request,
        503,
        "views_behind",
        f"the views have reached position {exc.reached}, not yet {exc.wanted}; retry shortly",
        headers={"Retry-After": str(exc.retry_after_seconds)},
        min_position=exc.wanted,
        position=exc.reached,
    )


def _invalid_token(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, InvalidToken)
    _note_refusal(request, "invalid_token")
    # RFC 6750: the challenge names the scheme; the reason is a fixed phrase, never the token.
    return error_response(
        request,
        401,
        "invalid_token",
        exc.reason,
        headers={"WWW-Authenticate": 'Bearer realm="continuum", error="invalid_token"'},
    )


def _too_many_failures(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, TooManyFailedAuthentications)
    return _unavailable(
        request,
        429,
        "too_many_failed_authentications",
        "too many failed authentications from this address; retry after the given seconds",
        exc.retry_after_seconds,
    )


def _token_keys_unavailable(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, TokenKeysUnavailable)
    return _unavailable(
        request,
        503,
        "token_keys_unavailable",
        "the identity provider's signing keys could not be fetched; retry shortly",
        5,
    )


def _unavailable(
    request: Request, status: int, error: str, detail: str, retry_after: int
) -> ProblemResponse:
    """A refusal that passes with time: the problem, with Retry-After."""
    _note_refusal(request, error)
    return error_response(request, status, error, detail, headers={"Retry-After": str(retry_after)})


def _store_unavailable(request: Request, exc: Exception) -> ProblemResponse:
    STORE_ERRORS.inc()
    # The class name only: a driver's message can quote a connection string or a statement.
    log.warning("store_unavailable", error_type=type(exc).__qualname__)
    return _unavailable(
        request,
        503,
        "store_unavailable",
        "the database did not answer in time; nothing was served. A write may or may not "
        "have been recorded: retry with the same Idempotency-Key to find out",
        STORE_RETRY_AFTER_SECONDS,
    )


def _persistence_error(request: Request, exc: Exception) -> ProblemResponse:
    if type(exc) is PersistenceError or isinstance(exc, STORE_OUTAGES):
        return _store_unavailable(request, exc)
    raise exc  # an integrity or programming error is a bug: the 500 of the middleware


def _forbidden(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, Forbidden)
    _note_refusal(request, "forbidden")
    return error_response(request, 403, "forbidden", exc.detail)


def _access_log_unavailable(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, AccessLogUnavailable)
    ACCESS_LOG_FAILURES.inc()
    # No read is served unless it is in the access log.
    return _unavailable(
        request,
        503,
        "access_log_unavailable",
        "the read could not be written to the access log, so it was not served; retry shortly",
        1,
    )


def _request_validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, str]] = []
    for error in exc.errors():
        # A parameter that two dependencies both declare is reported by each: the caller
        # is told once.
        entry = {"field": _field(error.get("loc", ())), "detail": str(error.get("msg", "invalid"))}
        if entry not in errors:
            errors.append(entry)
    first = errors[0] if errors else {"field": "body", "detail": "invalid request"}
    _note_refusal(request, "invalid_request")
    # Only field names and messages: pydantic's `input` would echo the caller's values back.
    return error_response(
        request,
        422,
        "invalid_request",
        f"{first['field']}: {first['detail']}",
        field=first["field"],
        errors=errors,
    )


def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    error = _HTTP_ERROR_IDS.get(exc.status_code, "http_error")
    _note_refusal(request, error)
    return error_response(
        request, exc.status_code, error, str(exc.detail), headers=getattr(exc, "headers", None)
    )


def _field(loc: Sequence[object]) -> str:
    """`("body", "dimensions", "d1")` -> `dimensions.d1`; a JSON syntax error -> `body`."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] in _LOCATION_PARTS:
        parts = parts[1:]
        if loc[0] == "body" and len(parts) == 1 and isinstance(parts[0], int):
            return "body"  # the character offset of a JSON syntax error, not a field
    return ".".join(str(part) for part in parts) or "body"


def _note_refusal(request: Request, error: str) -> None:
    # The access log carries the error id only: a detail or even a field name (`results.<key>`,
    # an unknown field's name) may quote the caller's input.
    request.state.error = error
