"""Helpers of the feed, stream and consent tests: callers by role, consents, feed paging."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.http.dependencies import clock
from api.routes.events import StreamSettings
from api.security.tokens import Role
from tests.e2e.support import NOW, PROGRAM, bearer, build_app, iso

RECIPIENT = "billing-service"


def integrator(sub: str = RECIPIENT) -> dict[str, str]:
    return bearer(Role.INTEGRATOR, sub=sub)


def auditor() -> dict[str, str]:
    return bearer(Role.AUDITOR, sub="test-auditor")


def clinician(*programs: str) -> dict[str, str]:
    return bearer(Role.CLINICIAN, sub="test-clinician", programs=programs or (PROGRAM,))


def grant(
    client: TestClient,
    participant_id: str,
    *,
    recipient: str = RECIPIENT,
    scope: list[str] | None = None,
    expires_in: timedelta = timedelta(days=365),
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    response: httpx.Response = client.post(
        f"/v1/participants/{participant_id}/consents",
        json={
            "recipient_id": recipient,
            "scope": scope or ["all"],
            "expires_at": iso(NOW + expires_in),
        },
        headers=headers or clinician(),
    )
    return response


def revoke(client: TestClient, participant_id: str, consent_id: str) -> httpx.Response:
    response: httpx.Response = client.post(
        f"/v1/participants/{participant_id}/consents/{consent_id}/revoke",
        json={"reason": "Participant withdrew consent in writing."},
        headers=clinician(),
    )
    return response


def read_feed(
    client: TestClient, headers: dict[str, str] | None = None, **params: Any
) -> dict[str, Any]:
    response = client.get("/v1/events", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def read_all(
    client: TestClient, headers: dict[str, str] | None = None, *, after: int = 0, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every event after `after`, page by page, and the final cursor."""
    events: list[dict[str, Any]] = []
    while True:
        page = read_feed(client, headers, after=after, **params)
        events += page["events"]
        if page["next_after"] == after:
            return events, after
        after = page["next_after"]


def subjects(events: list[dict[str, Any]]) -> set[str]:
    return {e["subject"] for e in events}


@pytest.fixture
def server(sqlite_url: str) -> Iterator[str]:
    """The app on a real uvicorn (streams need a real connection), heartbeats every 0.3 s."""
    with serving(build_app(sqlite_url)) as base:
        yield base


@pytest.fixture
def wall_clock_server(sqlite_url: str) -> Iterator[str]:
    """The same, reading the real clock (the e2e apps' fixed clock is an override, and a
    stream reads its clock outside the dependency)."""
    app = build_app(sqlite_url)
    app.dependency_overrides.pop(clock, None)
    with serving(app) as base:
        yield base


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    app.state.stream_settings = StreamSettings(heartbeat_seconds=0.3, poll_seconds=0.05)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)
