"""A store that fails or a request that overruns its budget: 503 with Retry-After, never 500."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from fastapi.testclient import TestClient
from psycopg_pool import PoolTimeout

from api.seed.commands import admission as admission_command
from tests.e2e.support import NOW, PROGRAM, authorized_client, build_app, session


@pytest.mark.parametrize(
    "error", [OperationalError("down"), InterfaceError("closed"), PoolTimeout("no connection"),
              PersistenceError("other driver error")],
)  # fmt: skip
def test_a_store_outage_is_503_store_unavailable(
    client: TestClient, participant: str, error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = client.app.state.application  # type: ignore[attr-defined]

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(application, "execute", fail)
    response = client.post(f"/v1/participants/{participant}/sessions", json=session())
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["error"] == "store_unavailable" and body["status"] == 503
    assert "store_errors_total" in client.get("/metrics").text


def test_a_request_past_its_time_budget_is_503(database_url: str) -> None:
    """A read whose handler takes 10 s is answered 503 at the 2 s budget. (Set up without
    HTTP: on a loaded machine an ordinary request may itself pass so short a budget.)"""
    app = build_app(database_url, request_timeout_seconds=2)
    with authorized_client(app) as client:
        application = app.state.application
        pid = application.execute(
            admission_command(NOW, program_id=PROGRAM, level="2.1"), recorded_by="t", now=NOW
        ).participant_id
        peek = application.peek_participant

        def slow(participant_id: Any) -> Any:
            time.sleep(10)
            return peek(participant_id)

        application.peek_participant = slow
        started = time.monotonic()
        response = client.get(f"/v1/participants/{pid}")
        elapsed = time.monotonic() - started
        application.peek_participant = peek
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "request_timeout"
        assert response.headers["retry-after"] == "2"
        assert elapsed < 8  # answered at the budget, not when the handler finished (10 s)
