"""Routes served without FastAPI's general dependency solving, where their shape allows it.

The hot routes' dependencies (`LoggedRead` for a record read, `write_context` for a write)
read the caller, the path's id and their headers from the request themselves, so most of what
is left to FastAPI's request handler is generic: per request it classifies each dependency
(cache key, scopes, generator or coroutine), builds the endpoint's context for error messages,
parses the Content-Type with the email package and walks its `AsyncExitStack`s. py-spy over
`api.bench.request_cost` put that at about a quarter of a timeline read's CPU
(docs/performance.md, "Direct routes").

`DirectRoute` uses FastAPI's documented extension point for custom request handling (a
`route_class`). A route declared on a router with it keeps everything FastAPI derives from the
declaration (the OpenAPI operation, matching, the exception handlers); at request time it is
served by a handler that does what FastAPI's does for that shape, and nothing else, when the
shape is this:

- the endpoint returns a `Response` (nothing to serialize); a coroutine runs on the event
  loop, a plain function in the threadpool, as FastAPI runs them;
- each of its dependencies is a coroutine taking only the request (`request_readers`);
- its other parameters are the request, path and query parameters and at most one JSON body.

The order is FastAPI's: the body is read first (malformed JSON refused before anything
else), then the dependencies run in declaration order (authentication refuses there), then the
parameters and the body are validated by FastAPI's own `request_params_to_args` and
`request_body_to_args` and refused together in one RequestValidationError (path, query,
body). tests/e2e/test_direct_routes.py holds the two handlers to the same answers.

Any other route on the router, a request while a test overrides one of the route's
dependencies, and a body under a FastAPI or Starlette body limit are served by FastAPI's own
handler.
"""

from __future__ import annotations

import email.message
import functools
import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Any, get_type_hints

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args, request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.params import Form
from fastapi.routing import APIRoute, _effective_route_context_var
from pydantic_core import PydanticUndefined as Undefined
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    """An APIRoute served by `direct_handler` when its shape allows (see the module)."""

    def get_route_handler(self) -> Handler:
        framework = super().get_route_handler()
        # Included routers build a handler per inclusion, with the including router's
        # dependencies and overrides provider in an effective context, named by a context
        # variable FastAPI does not export; APIRoute.get_route_handler reads it the same way.
        # Seeing those dependencies matters: a router included with one (a guard) is not a
        # shape served here, and falls back to FastAPI's handler.
        context = _effective_route_context_var.get()
        route: Any = context if context is not None and context.original_route is self else self
        return self.direct_handler(route, framework) or framework

    def direct_handler(self, route: Any, framework: Handler) -> Handler | None:
        """The handler that serves `route` directly; None when its shape needs FastAPI's."""
        dependant: Dependant = route.dependant
        readers = request_readers(dependant)
        if readers is None or not _returns_response(dependant.call):
            return None
        body_fields = dependant.body_params
        if body_fields and (len(body_fields) != 1 or isinstance(body_fields[0].field_info, Form)):
            return None
        strict = getattr(route.strict_content_type, "value", route.strict_content_type)
        embed_body_fields: bool = route._embed_body_fields
        endpoint: Callable[..., Any] = dependant.call  # type: ignore[assignment]
        in_loop = inspect.iscoroutinefunction(endpoint)
        request_name = dependant.request_param_name
        path_params, query_params = dependant.path_params, dependant.query_params
        provider = route.dependency_overrides_provider
        overridable = tuple(call for _, call in readers)

        async def handler(request: Request) -> Response:
            overrides = getattr(provider, "dependency_overrides", None)
            if overrides and any(call in overrides for call in overridable):
                return await framework(request)
            if body_fields and MAX_BODY_SIZE_SCOPE_KEY in request.scope:
                # A body limit of FastAPI's or Starlette's: their handler maps its errors.
                return await framework(request)
            # FastAPI reads the body before it solves the dependencies.
            body = await _json_body(request, strict) if body_fields else Undefined
            values: dict[str, Any] = {name: await call(request) for name, call in readers}
            errors: list[Any] = []
            if path_params or query_params:
                path_values, errors = request_params_to_args(path_params, request.path_params)
                query_values, query_errors = request_params_to_args(
                    query_params, request.query_params
                )
                errors += query_errors
                values.update(path_values)
                values.update(query_values)
            if body_fields:
                body_values, body_errors = await request_body_to_args(
                    body_fields, body, embed_body_fields
                )
                errors += body_errors
                values.update(body_values)
            if errors:
                raise RequestValidationError(errors, body=None if body is Undefined else body)
            if request_name is not None:
                values[request_name] = request
            if in_loop:
                response = await endpoint(**values)
            else:
                response = await run_in_threadpool(endpoint, **values)
            if not isinstance(response, Response):  # the annotation promised one
                raise TypeError(f"{endpoint.__qualname__} returned {type(response).__name__}")
            return response

        return handler


def request_readers(
    dependant: Dependant,
) -> list[tuple[str, Callable[[Request], Coroutine[Any, Any, Any]]]] | None:
    """The endpoint's dependencies as (parameter, call) if each is a coroutine taking only the
    request, run as FastAPI would run it (no concurrency limit of its own), and the endpoint
    declares nothing a direct handler does not read (headers, cookies, a Response,
    background tasks, security scopes); None otherwise."""
    if dependant.call is None:
        return None
    if dependant.header_params or dependant.cookie_params:
        return None
    if (
        dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
    ):
        return None
    readers: list[tuple[str, Callable[[Request], Coroutine[Any, Any, Any]]]] = []
    for sub in dependant.dependencies:
        call = sub.call
        if (
            sub.name is None
            or call is None
            or sub.request_param_name is None
            or sub.dependencies
            or sub.path_params
            or sub.query_params
            or sub.header_params
            or sub.cookie_params
            or sub.body_params
            or sub.response_param_name
            or sub.background_tasks_param_name
            or sub.security_scopes_param_name
            or sub.concurrency is not None
            or not _is_coroutine(call)
        ):
            return None
        readers.append((sub.name, call))
    return readers


async def _json_body(request: Request, strict_content_type: bool) -> Any:
    """The request's body as FastAPI's handler reads it for a JSON body parameter: Undefined
    when empty, parsed JSON when the content type is JSON (or absent, unless strict), else
    the raw bytes (refused by validation); malformed JSON refused with pydantic's
    `json_invalid`, any other failure to read it with 400."""
    try:
        body_bytes = await request.body()
        if not body_bytes:
            return Undefined
        content_type = request.headers.get("content-type")
        if not content_type:
            return body_bytes if strict_content_type else await request.json()
        if _is_json(content_type):
            return await request.json()
        return body_bytes
    except json.JSONDecodeError as error:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", error.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": error.msg},
                }
            ],
            body=error.doc,
        ) from error
    except HTTPException:
        raise
    except Exception as error:
        raise HTTPException(
            status_code=400, detail="There was an error parsing the body"
        ) from error


@functools.lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    """Whether a Content-Type names JSON, parsed as FastAPI parses it (application/json or
    application/*+json); cached, as callers send a handful of spellings."""
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def _is_coroutine(call: Callable[..., Any]) -> bool:
    """A coroutine function, or an instance whose __call__ is one (as LoggedRead)."""
    if inspect.iscoroutinefunction(call):
        return True
    dunder = getattr(type(call), "__call__", None)  # noqa: B004 (the class's, not the instance's)
    return not inspect.isfunction(call) and inspect.iscoroutinefunction(dunder)


def _returns_response(call: Callable[..., Any] | None) -> bool:
    if call is None:
        return False
    returned = get_type_hints(call).get("return")
    return isinstance(returned, type) and issubclass(returned, Response)
