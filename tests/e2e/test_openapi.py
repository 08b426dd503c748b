"""The OpenAPI document: lint-clean, readable, an example per operation, rendered offline."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from api.http.dependencies import write_context
from api.http.openapi import api_routes
from api.http.reads import LoggedRead
from api.schemas.events import CloudEvent
from api.seed.demo import load_demo_cohort
from tests.e2e.support import authorized_client, build_app

_OPERATION_ID = re.compile(r"[a-z][a-zA-Z0-9]*")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    with authorized_client(build_app("memory://")) as client:
        response = client.get("/openapi.json")
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_the_document_passes_the_openapi_linter(document: dict[str, Any]) -> None:
    """openapi-spec-validator finds no error in the document (OpenAPI 3.1)."""
    validate(document)


def test_a_broken_document_fails_the_linter(document: dict[str, Any]) -> None:
    """The linter above can fail: a response without its required description is refused."""
    broken = {**document, "paths": {"/x": {"get": {"responses": {"200": {}}}}}}
    with pytest.raises(Exception, match="description"):
        validate(broken)


def test_operation_ids_are_readable_and_unique(document: dict[str, Any]) -> None:
    """Every operationId is a short camelCase name (e.g. getTimeline), none repeated."""
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids))
    assert all(_OPERATION_ID.fullmatch(i) and len(i) <= 40 for i in ids), ids
    assert "getTimeline" in ids and "getFhirBundle" in ids


def test_every_operation_has_an_example_that_fits_its_schema(document: dict[str, Any]) -> None:
    """Each operation's success response (and request body, if any) has an example, and each
    example validates against the schema it illustrates."""
    schemas = document["components"]["schemas"]
    for method, path, operation in _operations(document):
        bodies = [operation.get("requestBody", {"content": {}})]
        bodies += [r for s, r in operation["responses"].items() if s.startswith("2")]
        examples = 0
        for body in bodies:
            for media_type, media in body["content"].items():
                if "example" not in media:
                    continue
                examples += 1
                schema = {**media.get("schema", {}), "components": {"schemas": schemas}}
                if media_type.endswith("json") and media.get("schema"):
                    errors = list(OAS31Validator(schema).iter_errors(media["example"]))
                    assert not errors, (method, path, media_type, errors[0].message)
        assert examples, f"{method.upper()} {path} has no example"


def test_errors_and_headers_are_described(document: dict[str, Any]) -> None:
    """Errors are problem+json; ETag, Location, Retry-After, Idempotency-Key and If-Match are
    described where they occur."""
    admit = document["paths"]["/v1/participants"]["post"]
    assert {"ETag", "Location"} <= set(admit["responses"]["201"]["headers"])
    assert "application/problem+json" in admit["responses"]["409"]["content"]
    parameters = {p["name"]: p for p in admit["parameters"]}
    assert parameters["Idempotency-Key"]["description"]
    assert parameters["If-Match"]["description"]
    caseload = document["paths"]["/v1/participants"]["get"]
    assert "Retry-After" in caseload["responses"]["503"]["headers"]
    for _, _, operation in _operations(document):
        for status, response in operation["responses"].items():
            assert "X-Request-ID" in response["headers"]
            # The probes' 503 bodies say what is down, in their own shape.
            if int(status) >= 400 and operation["operationId"] not in {"healthz", "readyz"}:
                assert list(response["content"]) == ["application/problem+json"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize(
    ("dependency", "headers", "at_least"),
    [
        # the admission, six journey writes and four records' writes
        (write_context, {"If-Match", "Idempotency-Key"}, 11),
        # state, timeline, compliance, consents, history and the reassessment review
        (LoggedRead, {"X-Purpose-Of-Use"}, 6),
    ],
)
def test_headers_read_by_a_dependency_are_documented_where_it_is_used(
    dependency: object, headers: set[str], at_least: int
) -> None:
    """Writes read If-Match and Idempotency-Key, record reads X-Purpose-Of-Use and the bearer
    token, from the request themselves (not as FastAPI parameters and dependencies): every
    operation depending on them documents those headers, once, and the bearer requirement."""
    app = build_app("memory://")
    with authorized_client(app) as client:
        paths = client.get("/openapi.json").json()["paths"]
    using = [route for route in api_routes(app.routes) if _uses(route.dependant, dependency)]
    assert len(using) >= at_least
    for route in using:
        for method in route.methods or ():
            operation = paths[route.path_format][method.lower()]
            named = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert sorted(headers) == sorted(set(named) & headers), (method, route.path_format)
            assert len(named) == len(set(named))
            assert operation["security"] == [{"HTTPBearer": []}], (method, route.path_format)


def _uses(dependant: Dependant, dependency: object) -> bool:
    """Whether `dependency` (a function, or a class whose instances are used) is under it."""
    for used in dependant.dependencies:
        if used.call is dependency or _uses(used, dependency):
            return True
        if isinstance(dependency, type) and isinstance(used.call, dependency):
            return True
    return False


def test_feed_events_are_typed(document: dict[str, Any]) -> None:
    """The feed page declares CloudEvents whose `data` is one of the per-type payloads, and
    every event of the demo cohort's feed validates against that model."""
    schemas = document["components"]["schemas"]
    assert "SessionAttendedData" in schemas and "CloudEvent" in schemas
    app = build_app("memory://")
    with authorized_client(app) as client:
        load_demo_cohort(app.state.application, today=datetime(2026, 3, 18, tzinfo=UTC).date())
        page = client.get("/v1/events", params={"limit": 1000}).json()
    assert len(page["events"]) > 100
    for event in page["events"]:
        CloudEvent.model_validate(event)
        name = event["type"].split(".")[3]
        assert event["dataschema"] == f"urn:continuum:dataschema:{event['type']}", name


def test_docs_pages_load_nothing_from_elsewhere() -> None:
    """/docs and /redoc reference only the service's own files, and those files are served."""
    with TestClient(build_app("memory://")) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page)
            assert html.status_code == 200
            sources = re.findall(r'(?:src|href)="([^"]+)"', html.text)
            assert sources and all(s.startswith("/") for s in sources), sources
            for source in sources:
                if source.endswith((".js", ".css")):
                    assert client.get(source).status_code == 200, source
