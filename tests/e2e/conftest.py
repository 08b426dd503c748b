"""HTTP fixtures: the app over each backend, its clock fixed at NOW, and an admitted participant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from tests.e2e.support import OpenClient, admission, authorized_client, bearer, build_app


@pytest.fixture
def open_client() -> Iterator[OpenClient]:
    """Starts apps on demand, with an admin's token; every one still open is shut down
    (closing its store) after."""
    with ExitStack() as running:

        def open_(database_url: str) -> TestClient:
            return running.enter_context(authorized_client(build_app(database_url)))

        yield open_


@pytest.fixture
def client(database_url: str, open_client: OpenClient) -> TestClient:
    """A client of the app over each backend in turn (memory, SQLite, PostgreSQL)."""
    return open_client(database_url)


@pytest.fixture
def participant(client: TestClient) -> str:
    """The id of a participant admitted at ADMITTED_AT to level 2.1 (stream version 2)."""
    response = client.post("/v1/participants", json=admission())
    assert response.status_code == 201, response.text
    return str(response.json()["participant_id"])


@pytest.fixture
def pages() -> Iterator[TestClient]:
    """A client of an in-memory app for the pages: no cookies yet, redirects answered as
    they are (a form post's 303) rather than followed."""
    with TestClient(build_app("memory://"), follow_redirects=False) as client:
        yield client


@pytest.fixture
def admitted(pages: TestClient) -> str:
    """A participant admitted at 2.1 on Monday Feb 2 09:00 UTC, over the `pages` app."""
    response = pages.post("/v1/participants", json=admission(), headers=bearer())
    assert response.status_code == 201, response.text
    return str(response.json()["participant_id"])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report how many requests the schemathesis run sent (tests/e2e/test_schemathesis.py)."""
    from tests.e2e.test_schemathesis import REQUESTS_SENT

    sent = terminalreporter.config.stash.get(REQUESTS_SENT, None)
    if sent is not None:
        terminalreporter.write_line(f"schemathesis: {sent} generated requests")
