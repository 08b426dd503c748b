"""Request bodies of the v1 contract (valid by default; tests override one field) and helpers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.dependencies import clock
from api.logging import configure_logging
from api.security.tokens import Role, mint_token
from api.settings import Settings

# The fixed clock of the e2e apps: every write is recorded "now" = NOW.
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ADMITTED_AT = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
PROGRAM = "riverside-iop"

# The e2e apps verify tokens with this secret; callers are admins unless a test says otherwise.
TEST_JWT_SECRET = "e2e-test-secret-0123456789abcdef0123456789"
ADMIN_SUB = "test-admin"

# Starts an app on a store URL and returns a client of it (see the `open_client` fixture).
OpenClient = Callable[[str], TestClient]


def build_app(database_url: str, **settings: Any) -> FastAPI:
    """The service over `database_url`, without the demo cohort, recording at NOW (other
    `settings` as given)."""
    app = create_app(
        Settings(
            database_url=database_url,
            demo=False,
            log_format="console",
            jwt_secret=TEST_JWT_SECRET,
            **settings,
        )
    )
    app.dependency_overrides[clock] = lambda: NOW
    return app


def token(
    role: Role | str = Role.ADMIN,
    *,
    sub: str | None = None,
    programs: tuple[str, ...] = (),
    ttl: timedelta = timedelta(hours=1),
) -> str:
    """A token the e2e apps accept (signed with TEST_JWT_SECRET, valid for `ttl` from now)."""
    return mint_token(
        TEST_JWT_SECRET,
        role=role,
        sub=sub or f"test-{Role(role).value}",
        programs=programs,
        ttl=ttl,
    )


def bearer(role: Role | str = Role.ADMIN, **kw: Any) -> dict[str, str]:
    """An Authorization header for a caller of `role` (see `token`)."""
    return {"Authorization": f"Bearer {token(role, **kw)}"}


def authorized_client(app: FastAPI, role: Role | str = Role.ADMIN, **kw: Any) -> TestClient:
    """A client of `app` that sends a valid token of `role` with every request."""
    return TestClient(app, headers=bearer(role, **kw))


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def days_after_admission(days: float, hours: float = 0) -> str:
    return iso(ADMITTED_AT + timedelta(days=days, hours=hours))


def admission(**overrides: Any) -> dict[str, Any]:
    return {
        "program_id": PROGRAM,
        "age_group": "adult",
        "level": "2.1",
        "pathway": "primary",
        "admitted_at": iso(ADMITTED_AT),
        **overrides,
    }


def level_change(**overrides: Any) -> dict[str, Any]:
    return {
        "to_level": "1",
        "effective_at": days_after_admission(14),
        "reason": "Goals met; step down to outpatient.",
        **overrides,
    }


def session(**overrides: Any) -> dict[str, Any]:
    return {
        "service": "group",
        "started_at": days_after_admission(1),
        "duration_minutes": 180,
        "attended": True,
        "modality": "CBT",
        "track": "morning",
        **overrides,
    }


def screening(**overrides: Any) -> dict[str, Any]:
    return {
        "collected_at": days_after_admission(7),
        "specimen": "urine",
        "status": "valid",
        "results": {"cocaine": "negative", "buprenorphine": "positive"},
        "prescribed": ["buprenorphine"],
        **overrides,
    }


def reassessment(**overrides: Any) -> dict[str, Any]:
    return {
        "assessed_at": days_after_admission(28),
        "dimensions": {"d1": 0, "d2": 1, "d3": 2, "d4": 2, "d5": 2, "d6": 1},
        "recommended_level": "2.1",
        "decided_level": "2.1",
        "rationale": "Engaged and progressing; continue at this level.",
        **overrides,
    }


def discharge(**overrides: Any) -> dict[str, Any]:
    return {
        "discharged_at": days_after_admission(27),
        "reason": "completed",
        "to_level": "1",
        **overrides,
    }


def correction(event_id: str, **overrides: Any) -> dict[str, Any]:
    return {"event_id": event_id, "reason": "Entered in error: duplicate entry.", **overrides}


def stream_version(client: TestClient, participant_id: str) -> int:
    """The participant's stream version, as GET reports it."""
    response = client.get(f"/v1/participants/{participant_id}")
    assert response.status_code == 200, response.text
    version: int = response.json()["version"]
    return version


def post(
    client: TestClient, participant_id: str, resource: str, body: dict[str, Any], **kw: Any
) -> httpx.Response:
    """POST `body` to /v1/participants/{participant_id}/{resource}.

    Sent as ASCII JSON, so strings JSON can spell but UTF-8 cannot (a lone surrogate) get through.
    """
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    response: httpx.Response = client.post(
        f"/v1/participants/{participant_id}/{resource}",
        content=json.dumps(body),
        headers=headers,
        **kw,
    )
    return response


def logged(line: str) -> dict[str, Any]:
    """The fields of one rendered JSON log line ({} for a line that is not a JSON object)."""
    try:
        fields = json.loads(line)
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}


def service_log_lines(capsys: pytest.CaptureFixture[str], send: Callable[[], object]) -> list[str]:
    """The JSON lines the service writes to stdout while `send` runs, rendered as in production.

    Lines of the test's own HTTP client (httpx logs the URLs it calls) are left out: the
    service is what a test checks."""
    configure_logging(json=True)  # bound to the stdout capsys captures, as in production
    try:
        send()
        rendered = capsys.readouterr().out.splitlines()
    finally:
        with capsys.disabled():
            configure_logging(json=False)
    return [line for line in rendered if logged(line).get("logger") != "httpx"]
