"""No path or query string in any log line; JSON answers are never cached or sniffed.

A real `continuum serve` (uvicorn, as deployed) is sent requests whose paths and query strings
carry a marker; neither its stdout nor its stderr, nor the in-process app's log entries,
contain the marker. uvicorn's own access line (which quotes both verbatim) is off; the
project's request line names the route template.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi.testclient import TestClient

from api.bench.http import free_port
from api.logging import configure_logging
from api.security.tokens import Role
from tests.e2e.support import TEST_JWT_SECRET, admission, bearer, logged

MARKER = "Qmarker9Zed"

# Paths and query strings a caller controls, each carrying the marker somewhere.
PATHS = [
    f"/v1/participants/{MARKER}",
    f"/v1/participants/{MARKER}/timeline?known_at={MARKER}",
    f"/v1/participants?program_id={MARKER}",
    f"/v1/participants?program_id=riverside-iop&cursor={MARKER}",
    f"/v1/events?after={MARKER}",
    f"/v1/audit/disclosures?recipient={MARKER}",
    f"/v1/audit/access-log?participant_id={MARKER}",
    f"/{MARKER}?{MARKER}={MARKER}",
]


def send(get: Callable[[str], httpx.Response], participant: str) -> list[int]:
    requests = [*PATHS, f"/v1/participants/{participant}/timeline?known_at={MARKER}"]
    return [get(path).status_code for path in requests]


@pytest.fixture
def served(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`continuum serve` on a SQLite store, INFO logs, stdout and stderr kept in a file."""
    port = free_port()
    output = tmp_path / "server.log"
    env = {
        **os.environ,
        "CONTINUUM_DATABASE_URL": sqlite_url,
        "CONTINUUM_DEMO": "0",
        "CONTINUUM_TIMEZONE": "America/Chicago",
        "CONTINUUM_JWT_SECRET": TEST_JWT_SECRET,
        "CONTINUUM_LOG_LEVEL": "INFO",
        "CONTINUUM_LOG_FORMAT": "json",
    }
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, output.read_text()[-2000:]
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
            yield base_url, output
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_no_server_log_line_holds_a_path_or_query_string(served: tuple[str, Path]) -> None:
    """Given a served app at INFO, when requests carry the marker in paths and query strings,
    then the server's output has a request line per request and no line with the marker."""
    base_url, output = served
    with httpx.Client(base_url=base_url, headers=bearer(Role.ADMIN), timeout=30) as client:
        admitted = client.post("/v1/participants", json=admission())
        assert admitted.status_code == 201, admitted.text
        statuses = send(client.get, str(admitted.json()["participant_id"]))
    assert len(statuses) == len(PATHS) + 1
    time.sleep(0.5)  # let the last lines reach the file
    lines = output.read_text().splitlines()
    requests = [logged(line) for line in lines if logged(line).get("event") == "request"]
    assert len(requests) >= len(statuses)
    assert {r["route"] for r in requests} >= {"/v1/participants/{participant_id}/timeline"}
    assert [line for line in lines if MARKER in line] == []


def test_no_app_log_entry_holds_a_path_or_query_string(
    client: TestClient, participant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same requests in process: neither structured entries nor rendered lines hold it."""
    with structlog.testing.capture_logs() as entries:
        send(client.get, participant)
    assert entries and not [e for e in entries if MARKER in repr(e)]
    configure_logging(json=True)  # bound to the stdout capsys captures, as in production
    try:
        send(client.get, participant)
        rendered = capsys.readouterr()
    finally:
        with capsys.disabled():
            configure_logging(json=False)
    # The test's own HTTP client (httpx) logs the URLs it calls; the service is what's checked.
    lines = [
        line
        for line in (rendered.out + rendered.err).splitlines()
        if logged(line).get("logger") != "httpx"
    ]
    assert len([line for line in lines if logged(line).get("event") == "request"]) == len(PATHS) + 1
    assert [line for line in lines if MARKER in line] == []


@pytest.mark.parametrize(
    "path",
    [
        "/v1/participants/{participant}",
        "/v1/participants/{participant}/timeline",
        "/v1/participants/00000000-0000-0000-0000-000000000000",  # a problem detail
        "/v1/participants?program_id=riverside-iop",
        "/healthz",
    ],
)
def test_json_answers_are_never_stored_or_sniffed(
    client: TestClient, participant: str, path: str
) -> None:
    response = client.get(path.format(participant=participant))
    assert "json" in response.headers["content-type"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_unauthenticated_problem_answers_are_not_stored_either(client: TestClient) -> None:
    response = client.get("/v1/participants", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
