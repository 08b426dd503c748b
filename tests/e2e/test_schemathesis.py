"""Hostile input, generated from the app's own OpenAPI document (schemathesis, stateless).

Every operation is sent schemathesis-generated requests, valid and invalid, as an admin (so
requests get past authentication and reach validation and the store). Checks on each
answer: never a 5xx (but the documented 503 of a read asking for a log position the views have
not reached); the status is one the document declares for the operation; the content type and
the headers are the declared ones; and the body matches the schema declared for its status.
Bounded (MAX_EXAMPLES per operation, no deadline) to stay within a couple of minutes; the
number of requests sent is printed in the test summary ("schemathesis: N generated requests").
It runs over each backend (memory, SQLite, PostgreSQL): a store's own failure modes (a value it
cannot store, a query it cannot bound) only show on that store.

The SSE stream (/v1/events/stream) is left out: it answers with an endless stream, which a
request-response check cannot judge.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.types import Receive, Scope, Send

from tests.conftest import fresh_database
from tests.e2e.support import admission, bearer, build_app

MAX_EXAMPLES = 25
REQUESTS_SENT = pytest.StashKey[int]()


class WithoutLifespan:
    """The app as schemathesis sees it: its lifespan is run once by `started_app`, not by each
    of schemathesis's test clients (whose shutdown would close the app's store)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return


class CurrentApp:
    """Forwards to the app of the backend under test (`backend` switches it). Until one is
    started, an unstarted memory app serves the OpenAPI document schemathesis loads (every
    backend serves the same one)."""

    def __init__(self) -> None:
        self.app: FastAPI = build_app("memory://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


CURRENT = CurrentApp()
schema = schemathesis.openapi.from_asgi("/openapi.json", WithoutLifespan(CURRENT)).exclude(
    path="/v1/events/stream"
)


@pytest.fixture(
    scope="module",
    autouse=True,
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app over each backend in turn, started once (views following the log) with one
    participant in it; the generated requests go to it."""
    with ExitStack() as stack:
        if request.param == "memory":
            url = "memory://"
        elif request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'continuum.sqlite3'}"
        else:
            server = request.getfixturevalue("postgres_server")
            url = stack.enter_context(fresh_database(server))
        app = build_app(url)
        client = stack.enter_context(TestClient(app, headers=bearer()))
        assert client.post("/v1/participants", json=admission()).status_code == 201
        unstarted, CURRENT.app = CURRENT.app, app
        yield str(request.param)
        CURRENT.app = unstarted


@pytest.fixture(scope="module")
def admin_headers() -> dict[str, str]:
    return bearer()


def no_unexpected_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """not_a_server_error, except the one documented 503 a valid request may get: asking
    (`?min_position=`) for a log position the views have not reached, answered with
    Retry-After."""
    if response.status_code == 503 and response.json().get("error") == "views_behind":
        assert "retry-after" in {name.lower() for name in response.headers}
        return None
    result: bool | None = not_a_server_error(ctx, response, case)
    return result


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same requests on every run: a failure reproduces
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_responses_match_the_schema(
    case: Any, admin_headers: dict[str, str], request: pytest.FixtureRequest
) -> None:
    """Given any generated request to any operation, the answer is not a 5xx and its body
    conforms to the response schema the OpenAPI document declares."""
    stash = request.config.stash
    stash[REQUESTS_SENT] = stash.get(REQUESTS_SENT, 0) + 1
    case.call_and_validate(
        headers=admin_headers,
        checks=[
            no_unexpected_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
