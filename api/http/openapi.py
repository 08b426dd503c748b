"""The OpenAPI document as integrators read it, and the pages that render it offline.

FastAPI derives paths, parameters and bodies from the routes; this module adds what it cannot
see: the headers and the token a dependency reads from the request itself (`reads_from_request`),
errors as `application/problem+json`, the headers every response carries (X-Request-ID) and
those some do (ETag, Location, Retry-After, WWW-Authenticate), and an example for each
operation. Swagger UI and ReDoc load their scripts from the `fastapi-offline` wheel (Swagger UI
is Apache-2.0, ReDoc MIT), so /docs works on a clinical network without internet access.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from api.http.errors import PROBLEM_JSON

DOCS_STATIC_DIR = Path(fastapi_offline.__file__).parent / "static"
DOCS_STATIC_URL = "/docs-static"
_PROBLEM_REF = {"$ref": "#/components/schemas/ErrorBody"}
_DEFAULT_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_WORD = re.compile(r"_+([a-z0-9])")

_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id (the caller's X-Request-ID, or one made up); "
        "problem details repeat it as `request_id`",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": 'The participant\'s stream version, e.g. "7": send it back as If-Match',
        "schema": {"type": "string"},
    },
    "Location": {"description": "The participant's URL", "schema": {"type": "string"}},
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer"},
    },
    "WWW-Authenticate": {
        "description": 'The bearer challenge (RFC 6750), `error="invalid_token"`',
        "schema": {"type": "string"},
    },
}


Call = TypeVar("Call", bound=Callable[..., Any])


@dataclass(frozen=True)
class ReadFromRequest:
    """What a dependency reads from the request itself: OpenAPI parameters, and the security
    requirements (the bearer token) it checks."""

    parameters: tuple[dict[str, Any], ...]
    security: tuple[dict[str, list[str]], ...]


# By the dependency (a function, or a class whose instances are the dependencies).
_READ_FROM_REQUEST: dict[object, ReadFromRequest] = {}


def reads_from_request(
    *parameters: dict[str, Any], security: Iterable[dict[str, list[str]]] = ()
) -> Callable[[Call], Call]:
    """Mark a dependency as reading these parameters (headers, a path parameter) and checking
    these security requirements (the bearer token) from the request itself rather than
    declaring them as FastAPI parameters and dependencies; every operation that depends on it
    documents them.

    On the hottest routes each declared parameter and each dependency node cost every request
    FastAPI's solving (a session write's CPU fell ~7-8% with two headers and four nodes read
    this way, a timeline read's ~14% with its path id, its purpose header and its
    authentication's two nodes: docs/performance.md, "Write dependencies")."""

    def mark(call: Call) -> Call:
        _READ_FROM_REQUEST[call] = ReadFromRequest(tuple(parameters), tuple(security))
        return call

    return mark


def optional_header(name: str, description: str, *, example: str) -> dict[str, Any]:
    """An optional text header's parameter, spelled as FastAPI spells a declared `str | None`
    Header (so moving a header into `reads_from_request` leaves the document as it was)."""
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": description,
            "examples": [example],
            "title": name,
        },
    }


def api_routes(routes: Iterable[Any]) -> list[APIRoute]:
    """Every APIRoute, those of included routers too (FastAPI keeps an included router whole;
    the paths of its routes carry the router's own prefix, and ours are included without one)."""
    found: list[APIRoute] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found += api_routes(included.routes)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def read_from_request(dependant: Dependant) -> ReadFromRequest:
    """What the dependencies under `dependant` read themselves, each parameter and
    requirement once."""
    parameters: dict[str, dict[str, Any]] = {}
    security: list[dict[str, list[str]]] = []
    for dependency in dependant.dependencies:
        for read in (_declared_by(dependency.call), read_from_request(dependency)):
            for parameter in read.parameters:
                parameters.setdefault(parameter["name"], parameter)
            security += [r for r in read.security if r not in security]
    return ReadFromRequest(tuple(parameters.values()), tuple(security))


_NOTHING = ReadFromRequest((), ())
_LOCATIONS = ("path", "query", "header", "cookie")


def _declared_by(call: object) -> ReadFromRequest:
    """What `reads_from_request` marked on the dependency, or on its class or a base class."""
    for marked in (call, *type(call).__mro__):
        try:
            read = _READ_FROM_REQUEST.get(marked)
        except TypeError:  # an unhashable dependency object: only its class can be marked
            continue
        if read is not None:
            return read
    return _NOTHING


def _document_read_from_request(document: dict[str, Any], routes: Iterable[Any]) -> None:
    paths = document.get("paths", {})
    for route in api_routes(routes):
        if not route.include_in_schema:
            continue
        read = read_from_request(route.dependant)
        if read == _NOTHING:
            continue
        for method in route.methods or ():
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            parameters = operation.setdefault("parameters", [])
            named = {p["name"] for p in parameters}
            parameters += [p for p in read.parameters if p["name"] not in named]
            # Grouped by location as FastAPI lists them (path, query, header, cookie).
            parameters.sort(key=lambda p: _LOCATIONS.index(p["in"]))
            if read.security:
                requirements = operation.setdefault("security", [])
                requirements += [r for r in read.security if r not in requirements]


def operation_id(route: APIRoute) -> str:
    """`get_timeline` -> `getTimeline`: the route function's name, in camelCase."""
    return _WORD.sub(lambda match: match.group(1).upper(), route.name)


def install_openapi(app: FastAPI) -> None:
    """Replace the app's OpenAPI builder and serve /docs and /redoc from packaged files."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            _document_read_from_request(document, app.routes)
            app.openapi_schema = describe(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(DOCS_STATIC_URL, StaticFiles(directory=DOCS_STATIC_DIR), name="docs_static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_STATIC_URL}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )


def describe(document: dict[str, Any]) -> dict[str, Any]:
    """The document with problem details, response headers and examples filled in."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                operation["responses"].setdefault(
                    "400", {"description": "The body could not be read (e.g. not UTF-8)"}
                )
                operation["responses"].setdefault(
                    "413", {"description": "The body is larger than CONTINUUM_MAX_BODY_BYTES"}
                )
            for status, response in operation.get("responses", {}).items():
                _describe_response(path, method, int(status), response)
            _ensure_example(operation, schemas)
    for name in _DEFAULT_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def _describe_response(path: str, method: str, status: int, response: dict[str, Any]) -> None:
    headers = response.setdefault("headers", {})
    headers["X-Request-ID"] = _HEADERS["X-Request-ID"]
    content = response.get("content", {})
    if status >= 400 and not _is_own_body(content):
        response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
    if status in (429, 503):
        headers["Retry-After"] = _HEADERS["Retry-After"]
    if status == 401:
        headers["WWW-Authenticate"] = _HEADERS["WWW-Authenticate"]
    participant_write = method == "post" and path.startswith("/v1/participants")
    if status == 412 or (status == 201 and participant_write and "consents" not in path):
        headers["ETag"] = _HEADERS["ETag"]
    if status == 201 and path == "/v1/participants":
        headers["Location"] = _HEADERS["Location"]
    if status == 200 and path == "/v1/participants/{participant_id}" and method == "get":
        headers["ETag"] = _HEADERS["ETag"]


def _is_own_body(content: dict[str, Any]) -> bool:
    """An error response with a body of its own kind (healthz's 503 is a Health body)."""
    for media in content.values():
        ref = media.get("schema", {}).get("$ref", "")
        if ref and not ref.endswith(("/ErrorBody", *_DEFAULT_VALIDATION_SCHEMAS)):
            return True
    return False


def _ensure_example(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Give the request body and success response an example (the model's own, or one
    assembled from the examples, defaults and enums its schema declares)."""
    bodies = [operation.get("requestBody", {})] + [
        response
        for status, response in operation.get("responses", {}).items()
        if status.startswith("2")
    ]
    for body in bodies:
        for media in body.get("content", {}).values():
            if "example" in media or "examples" in media:
                continue
            example = example_of(media.get("schema", {}), schemas)
            if example is not None:
                media["example"] = example


def example_of(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> Any:
    """An instance of `schema` assembled from the examples, defaults and enums it declares
    (a model's own example first); None where the schema offers nothing to build from."""
    if depth > 12:
        return None
    if "$ref" in schema:
        return example_of(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas, depth + 1)
    for key in ("examples", "example"):
        if key in schema:
            value = schema[key]
            return value[0] if key == "examples" and isinstance(value, list) and value else value
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, ()):
            if option.get("type") != "null":
                found = example_of(option, schemas, depth + 1)
                if found is not None:
                    return found
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            name: value
            for name, value in (
                (name, example_of(sub, schemas, depth + 1))
                for name, sub in schema.get("properties", {}).items()
            )
            if value is not None
        }
    if kind == "array":
        item = example_of(schema.get("items", {}), schemas, depth + 1)
        return [] if item is None else [item]
    return _SCALARS.get((kind, schema.get("format")), _SCALARS.get((kind, None)))


_SCALARS: dict[tuple[Any, Any], Any] = {
    ("string", "uuid"): "6b1e0b58-4c1a-4d7e-9a43-2d7f3c9e8a10",
    ("string", "date-time"): "2026-02-03T09:00:00Z",
    ("string", "date"): "2026-02-03",
    ("string", None): "text",
    ("integer", None): 1,
    ("number", None): 1.5,
    ("boolean", None): True,
}
