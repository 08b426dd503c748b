"""Request logging: one access line per request, with ids only; never bodies or free text."""

from __future__ import annotations

import pytest
import structlog
from fastapi.testclient import TestClient

from api.logging import configure_logging, get_logger
from tests.e2e.support import (
    admission,
    level_change,
    logged,
    post,
    screening,
    service_log_lines,
    session,
)

NAME = "Jane Doe"


def send_requests_carrying_a_name(client: TestClient, participant: str) -> list[int]:
    """Requests whose text fields (accepted or refused), field names, path and request id
    carry a name; returns their statuses."""
    responses = [
        post(client, participant, "level-changes", level_change(reason=f"{NAME} relapsed")),
        post(client, participant, "sessions", session(track=NAME, duration_minutes=NAME)),
        post(client, participant, "sessions", {**session(), NAME: NAME}),
        post(client, participant, "screenings", screening(results={NAME: "maybe"})),
        client.get(f"/v1/participants/{NAME}"),
        client.get(f"/v1/participants/{participant}", headers={"X-Request-ID": NAME}),
    ]
    return [response.status_code for response in responses]


def test_free_text_never_reaches_the_logs(
    client: TestClient, participant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given requests carrying a name in every place a caller controls, then no log entry
    contains it: neither the structured entries nor the JSON lines rendered to stdout."""
    with structlog.testing.capture_logs() as entries:
        statuses = send_requests_carrying_a_name(client, participant)
    service_lines = service_log_lines(
        capsys, lambda: send_requests_carrying_a_name(client, participant)
    )

    assert statuses == [201, 422, 422, 422, 422, 200]
    assert len([entry for entry in entries if entry["event"] == "request"]) == 6
    assert not [entry for entry in entries if "Jane" in repr(entry)]
    assert len([line for line in service_lines if logged(line).get("event") == "request"]) == 6
    assert not [line for line in service_lines if "Jane" in line]


def test_one_access_line_per_request(client: TestClient, participant: str) -> None:
    """Each request logs one `request` line: method, route template, status, duration, request
    id and participant id; the request id is echoed in X-Request-ID."""
    with structlog.testing.capture_logs() as entries:
        response = post(client, participant, "sessions", session())

    [line] = [entry for entry in entries if entry["event"] == "request"]
    assert line["method"] == "POST"
    assert line["route"] == "/v1/participants/{participant_id}/sessions"
    assert line["status"] == 201
    assert line["duration_ms"] >= 0
    assert line["participant_id"] == participant
    assert line["request_id"] == response.headers["X-Request-ID"]


def test_refusals_log_the_error_id(client: TestClient, participant: str) -> None:
    """A refused request's access line carries the error id (not its detail)."""
    with structlog.testing.capture_logs() as entries:
        post(client, participant, "level-changes", level_change(to_level="2.1"))

    [line] = [entry for entry in entries if entry["event"] == "request"]
    assert (line["status"], line["error"]) == (409, "same_level")


def test_admission_logs_the_new_participant_id(client: TestClient) -> None:
    """An admission's path has no id; its access line names the participant it opened."""
    with structlog.testing.capture_logs() as entries:
        response = client.post("/v1/participants", json=admission())

    [line] = [entry for entry in entries if entry["event"] == "request"]
    assert line["participant_id"] == response.json()["participant_id"]


def test_caller_trace_id_is_kept(client: TestClient) -> None:
    """An X-Request-ID that looks like a trace id (hex and dashes) is kept and echoed."""
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"

    response = client.get("/healthz", headers={"X-Request-ID": trace})

    assert response.headers["X-Request-ID"] == trace


def test_healthz_answers_when_the_store_does(client: TestClient) -> None:
    """GET /healthz is 200 once the store answers a query."""
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_lines_below_the_level_are_dropped_and_the_rest_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """At WARNING, an info line (such as the access line) is not written; a warning is."""
    configure_logging(json=True, level="WARNING")
    try:
        log = get_logger("continuum.test")
        log.info("request", participant_id="p-1")
        log.warning("store_unavailable", store="postgres")
        lines = capsys.readouterr().out.splitlines()
    finally:
        configure_logging(json=False)
    assert len(lines) == 1
    assert logged(lines[0])["event"] == "store_unavailable"
