"""Refused writes: 409 for a rule the history forbids, 422 naming a malformed field, 404 for an
unknown participant. None of them appends anything."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.security.tokens import Role
from tests.e2e.support import (
    admission,
    bearer,
    correction,
    days_after_admission,
    discharge,
    level_change,
    post,
    reassessment,
    screening,
    session,
    stream_version,
)


def assert_refused(
    client: TestClient,
    participant: str,
    resource: str,
    body: dict[str, Any],
    status: int,
    error: str,
    **kw: Any,
) -> dict[str, Any]:
    """POSTs, checks the status and error id, and that the stream did not move."""
    before = stream_version(client, participant)
    response = post(client, participant, resource, body, **kw)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    assert answer["error"] == error
    assert answer["detail"]
    assert stream_version(client, participant) == before
    return answer


# ---- 409: the participant's history forbids it ---------------------------------------------


def test_session_before_admission(client: TestClient, participant: str) -> None:
    """A session dated before the admission is refused with 409 before_admission."""
    early = session(started_at=days_after_admission(-1))
    assert_refused(client, participant, "sessions", early, 409, "before_admission")


def test_session_after_discharge(client: TestClient, participant: str) -> None:
    """Given a discharged participant, a session is refused with 409 after_discharge."""
    post(client, participant, "discharge", discharge())
    late = session(started_at=days_after_admission(27, hours=20))
    assert_refused(client, participant, "sessions", late, 409, "after_discharge")


def test_level_change_to_the_same_level(client: TestClient, participant: str) -> None:
    """A level change to the current level (2.1) is refused with 409 same_level."""
    same = level_change(to_level="2.1")
    assert_refused(client, participant, "level-changes", same, 409, "same_level")


def test_second_discharge(client: TestClient, participant: str) -> None:
    """Given a discharged participant, a second discharge is refused: 409 already_discharged."""
    post(client, participant, "discharge", discharge())
    assert_refused(client, participant, "discharge", discharge(), 409, "already_discharged")


def test_correction_of_an_unknown_event(client: TestClient, participant: str) -> None:
    """A correction naming an event not in the stream is refused with 409 unknown_event."""
    unknown = correction(str(uuid4()))
    assert_refused(client, participant, "corrections", unknown, 409, "unknown_event")


def test_admission_of_an_active_participant(client: TestClient, participant: str) -> None:
    """Admitting a participant who is still active is refused with 409 already_active."""
    before = stream_version(client, participant)

    response = client.post("/v1/participants", json=admission(participant_id=participant))

    assert response.status_code == 409
    assert response.json()["error"] == "already_active"
    assert stream_version(client, participant) == before


def test_entry_in_the_future(client: TestClient, participant: str) -> None:
    """A session starting after now (beyond the clock-skew allowance) is refused: 409."""
    future = session(started_at="2026-03-03T12:00:00Z")
    assert_refused(client, participant, "sessions", future, 409, "in_the_future")


# ---- 422: malformed input, naming the field -------------------------------------------------

MALFORMED: list[tuple[str, str, dict[str, Any], str]] = [
    ("bad level code", "level-changes", level_change(to_level="9.9"), "to_level"),
    ("level code as a number", "level-changes", level_change(to_level=1), "to_level"),
    ("naive datetime", "sessions", session(started_at="2026-02-03T09:00:00"), "started_at"),
    ("date without time", "sessions", session(started_at="2026-02-03"), "started_at"),
    ("epoch number as time", "sessions", session(started_at=1770109200), "started_at"),
    ("unknown field", "sessions", {**session(), "note": "x"}, "note"),
    ("missing field", "sessions", {"service": "group"}, "started_at"),
    ("duration 0", "sessions", session(duration_minutes=0), "duration_minutes"),
    ("duration 1440", "sessions", session(duration_minutes=1440), "duration_minutes"),
    ("duration as text", "sessions", session(duration_minutes="60"), "duration_minutes"),
    ("duration as float", "sessions", session(duration_minutes=60.5), "duration_minutes"),
    ("attended as text", "sessions", session(attended="yes"), "attended"),
    ("attended as number", "sessions", session(attended=1), "attended"),
    ("unknown service", "sessions", session(service="yoga"), "service"),
    (
        "rating 5",
        "reassessments",
        reassessment(dimensions={"d1": 5, "d2": 0, "d3": 0, "d4": 0, "d5": 0, "d6": 0}),
        "dimensions.d1",
    ),
    (
        "missing dimension",
        "reassessments",
        reassessment(dimensions={"d1": 0, "d2": 0, "d3": 0, "d4": 0, "d5": 0}),
        "dimensions.d6",
    ),
    ("bad substance result", "screenings", screening(results={"thc": "maybe"}), "results.thc"),
    ("bad discharge reason", "discharge", discharge(reason="bored"), "reason"),
    ("bad event id", "corrections", correction("not-a-uuid"), "event_id"),
    ("lone surrogate", "level-changes", level_change(reason="\ud800"), "reason"),
    ("year 1", "sessions", session(started_at="0001-01-01T00:00:00+01:00"), "started_at"),
]


@pytest.mark.parametrize(
    ("resource", "body", "field"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_field_is_named(
    client: TestClient, participant: str, resource: str, body: dict[str, Any], field: str
) -> None:
    """A malformed field is refused with 422 whose `field` names it; nothing is appended."""
    before = stream_version(client, participant)

    response = post(client, participant, resource, body)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert stream_version(client, participant) == before


def test_bad_level_code_at_admission(client: TestClient) -> None:
    """An admission with a level code unknown to its edition is refused: 422 naming level."""
    response = client.post("/v1/participants", json=admission(level="2.7"))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "urn:continuum:problem:invalid_value",
        "title": "Unprocessable Entity",
        "status": 422,
        "error": "invalid_value",
        "detail": response.json()["detail"],
        "field": "level",
        "request_id": response.headers["X-Request-ID"],
    }


def test_malformed_json(client: TestClient, participant: str) -> None:
    """A body that is not JSON is refused with 422 naming the body."""
    response = client.post(
        f"/v1/participants/{participant}/sessions",
        content=b'{"service": ',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["field"] == "body"


def test_malformed_participant_id_in_the_path(client: TestClient) -> None:
    """A participant id that is not a UUID is refused with 422 naming participant_id."""
    for response in (
        client.get("/v1/participants/not-a-uuid"),
        client.get("/v1/participants/not-a-uuid/timeline"),
        client.post("/v1/participants/not-a-uuid/sessions", json=session()),
    ):
        assert response.status_code == 422
        assert response.json()["field"] == "participant_id"


@pytest.mark.parametrize("record", ["", "/timeline", "/compliance"])
def test_a_record_read_is_refused_in_order(client: TestClient, record: str) -> None:
    """A record read answers, in order: 401 without a valid token and 403 for a role that may
    not read records, whatever the path and headers hold (nothing about the request is told
    to a caller who may not make it); then 422 naming each malformed value, the path's id and
    the purpose header both."""
    url = f"/v1/participants/not-a-uuid{record}"
    bad_purpose = {"X-Purpose-Of-Use": "CURIOSITY"}
    anonymous = client.get(url, headers={"Authorization": "", **bad_purpose})
    integrator = client.get(url, headers={**bearer(Role.INTEGRATOR), **bad_purpose})
    malformed = client.get(url, headers=bad_purpose)
    assert (anonymous.status_code, integrator.status_code) == (401, 403)
    assert malformed.status_code == 422
    problem = malformed.json()
    assert problem["error"] == "invalid_request"
    assert [e["field"] for e in problem["errors"]] == ["participant_id", "X-Purpose-Of-Use"]


def test_a_write_is_refused_in_order(client: TestClient) -> None:
    """A write answers, in order: 401 without a valid token and 403 for a role that may not
    write (an integrator), whatever the path, headers and body hold; then 422 naming the
    malformed If-Match."""
    url = "/v1/participants/not-a-uuid/sessions"
    bad = {"If-Match": "seven"}
    anonymous = client.post(url, json={"x": 1}, headers={"Authorization": "", **bad})
    integrator = client.post(url, json={"x": 1}, headers={**bearer(Role.INTEGRATOR), **bad})
    malformed = client.post(url, json=session(), headers=bad)
    assert (anonymous.status_code, integrator.status_code) == (401, 403)
    assert (malformed.status_code, malformed.json()["field"]) == (422, "If-Match")


@pytest.mark.parametrize("header", ["seven", '"7', 'W/"2"', "*", "-1", ""])
def test_malformed_if_match(client: TestClient, participant: str, header: str) -> None:
    """An If-Match that is not a stream version is refused with 422 naming If-Match."""
    answer = assert_refused(
        client,
        participant,
        "sessions",
        session(),
        422,
        "invalid_value",
        headers={"If-Match": header},
    )
    assert answer["field"] == "If-Match"


def test_body_too_large(client: TestClient, participant: str) -> None:
    """A body over the limit (64 KiB) is refused with 413 before it is parsed."""
    huge = session(track="x" * (70 * 1024))
    assert_refused(client, participant, "sessions", huge, 413, "payload_too_large")


# ---- 404: no such participant ----------------------------------------------------------------


def test_unknown_participant(client: TestClient) -> None:
    """Reads and writes naming a participant that does not exist answer 404."""
    unknown = uuid4()
    for response in (
        client.get(f"/v1/participants/{unknown}"),
        client.get(f"/v1/participants/{unknown}/timeline"),
        client.post(f"/v1/participants/{unknown}/sessions", json=session()),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "participant_not_found"


def test_every_refusal_is_a_problem_details_body(client: TestClient, participant: str) -> None:
    """401, 403, 404 (route and participant), 405, 409 and 422 all answer RFC 9457 problem
    details (application/problem+json) with type, title, status, detail, error and the
    request's id."""
    missing = "00000000-0000-4000-8000-000000000000"
    answers = [
        client.get("/v1/participants", headers={"Authorization": "Bearer nope"}),
        client.get("/v1/audit/access-log", headers=bearer(Role.INTEGRATOR, sub="i-1")),
        client.get("/v1/no-such-route"),
        client.get(f"/v1/participants/{missing}"),
        client.delete(f"/v1/participants/{participant}"),
        client.post("/v1/participants", json=admission(participant_id=participant)),
        client.get("/v1/participants/not-a-uuid/timeline"),
    ]
    assert [r.status_code for r in answers] == [401, 403, 404, 404, 405, 409, 422]
    for response in answers:
        assert response.headers["content-type"] == "application/problem+json", response.text
        body = response.json()
        assert body["status"] == response.status_code
        assert body["type"] == f"urn:continuum:problem:{body['error']}"
        assert body["title"] and body["detail"]
        assert body["request_id"] == response.headers["X-Request-ID"]


def test_a_malformed_path_id_is_reported_once(client: TestClient) -> None:
    """A path id that is not a UUID is named once, though two dependencies read it."""
    response = client.get("/v1/participants/not-a-uuid/timeline")

    assert response.status_code == 422
    assert response.json()["field"] == "participant_id"
    assert [e["field"] for e in response.json()["errors"]] == ["participant_id"]
