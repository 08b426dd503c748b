"""GET /v1/events: CloudEvents 1.0 pages of participant events, resumable by position."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.feed.cloud_events import REDISCLOSURE_HEADER, REDISCLOSURE_NOTICE
from tests.e2e.feed_support import auditor, clinician, read_all, read_feed
from tests.e2e.support import PROGRAM, admission, post, session

REQUIRED = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
# CloudEvents 1.0: attribute names are lower-case letters and digits only.
ATTRIBUTE_NAME = re.compile(r"[a-z0-9]{1,20}")


def test_events_are_cloudevents_with_position_and_notice(
    client: TestClient, participant: str
) -> None:
    """Each event carries the required CloudEvents attributes, a typed name with a version,
    its clinical data only, the global position, and the Part 2 notice (header and extension)."""
    post(client, participant, "sessions", session())
    response = client.get("/v1/events", headers=auditor())
    assert response.status_code == 200, response.text
    assert response.headers[REDISCLOSURE_HEADER] == REDISCLOSURE_NOTICE
    events = response.json()["events"]
    attended = events[-1]
    assert set(attended) >= REQUIRED
    assert all(ATTRIBUTE_NAME.fullmatch(name) for name in attended)
    assert attended["specversion"] == "1.0"
    assert attended["type"] == "org.continuum.participant.session_attended.v1"
    assert attended["source"] == f"/continuum/programs/{PROGRAM}"
    assert attended["subject"] == participant
    assert attended["time"] == session()["started_at"]
    assert attended["datacontenttype"] == "application/json"
    assert attended["data"] == {
        "service": "group",
        "duration_minutes": 180,
        "modality": "CBT",
        "track": "morning",
    }
    assert attended["redisclosure"] == REDISCLOSURE_NOTICE
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert len({e["id"] for e in events}) == len(events)


def test_a_restarted_consumer_resumes_without_duplicate_or_gap(
    client: TestClient, participant: str
) -> None:
    """Given a consumer that read two small pages and stopped, while more events were written,
    when it restarts from its saved `next_after`, then it receives exactly the events it had
    not seen, in order: together, the whole feed once."""
    for day in range(1, 6):
        post(client, participant, "sessions", session(started_at=f"2026-02-0{day + 2}T09:00:00Z"))
    first = read_feed(client, auditor(), limit=2)
    second = read_feed(client, auditor(), limit=2, after=first["next_after"])
    saved = second["next_after"]
    for day in range(1, 4):
        post(client, participant, "sessions", session(started_at=f"2026-02-1{day}T09:00:00Z"))
    rest, _ = read_all(client, auditor(), after=saved, limit=3)

    seen = first["events"] + second["events"] + rest
    everything, _ = read_all(client, auditor(), limit=1000)
    assert [e["id"] for e in seen] == [e["id"] for e in everything]
    assert len(everything) == 2 + 5 + 3


def test_filters_by_type_and_program_advance_past_what_they_skip(
    client: TestClient, participant: str
) -> None:
    """`types=` and `program_id=` select events; `next_after` still passes the skipped ones."""
    other = client.post("/v1/participants", json=admission(program_id="harbor-php")).json()
    post(client, participant, "sessions", session())
    post(client, other["participant_id"], "sessions", session())

    page = read_feed(client, auditor(), types="SessionAttended", program_id=PROGRAM)
    assert [(e["subject"], e["type"]) for e in page["events"]] == [
        (participant, "org.continuum.participant.session_attended.v1")
    ]
    everything = read_feed(client, auditor(), limit=1000)
    assert page["next_after"] == everything["next_after"]
    by_full_type = read_feed(
        client, auditor(), types="org.continuum.participant.admitted.v1,Registered"
    )
    assert {e["type"].split(".")[3] for e in by_full_type["events"]} == {"admitted", "registered"}


def test_only_participant_events_are_published(client: TestClient, participant: str) -> None:
    """Consents (and program policy) are internal: the feed never carries them."""
    client.post(
        f"/v1/participants/{participant}/consents",
        json={"recipient_id": "x", "scope": ["all"], "expires_at": "2027-01-01T00:00:00Z"},
        headers=clinician(),
    )
    events, cursor = read_all(client, auditor())
    assert all(e["type"].startswith("org.continuum.participant.") for e in events)
    assert cursor > max(e["position"] for e in events)  # the consent's position was scanned


def test_bad_cursors_and_limits_are_refused(client: TestClient) -> None:
    """A negative `after` or a limit above 1000 is a 422 naming the parameter."""
    assert client.get("/v1/events?after=-1", headers=auditor()).status_code == 422
    refused = client.get("/v1/events?limit=1001", headers=auditor())
    assert refused.status_code == 422
    assert refused.json()["field"] == "limit"


def test_unknown_types_are_refused_with_the_valid_ones(
    client: TestClient, participant: str
) -> None:
    """`types=Bogus` (a typo) and `types=session_attended` (an undocumented spelling) answer
    422 naming `types` and listing the accepted spellings, on the page and on the stream;
    documented names and CloudEvent types still select."""
    for typo in ("Bogus", "session_attended", "SessionAttended,Bogus", "org.continuum.x.v1"):
        for path in ("/v1/events", "/v1/events/stream"):
            response = client.get(path, params={"types": typo}, headers=auditor())
            assert response.status_code == 422, (typo, path)
            body = response.json()
            assert body["field"] == "types"
            assert "SessionAttended" in body["valid"]
            assert "org.continuum.participant.session_attended.v1" in body["valid"]
    version_two = "org.continuum.participant.session_attended.v2"
    assert client.get("/v1/events", params={"types": version_two}).status_code == 422
    assert read_feed(client, auditor(), types="Admitted")["events"]
