"""The timeline is rendered once per stream version and served from that cache."""

from __future__ import annotations

from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.schemas.participants import Timeline, TimelineEvent
from tests.e2e.support import OpenClient, correction, days_after_admission, post, session


def timeline(client: TestClient, participant: str) -> list[dict[str, object]]:
    response = client.get(f"/v1/participants/{participant}/timeline")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    events: list[dict[str, object]] = response.json()["events"]
    return events


def test_a_new_event_changes_the_cached_timeline(client: TestClient, participant: str) -> None:
    """Given a timeline already read (and so cached at version 2), when a session and then a
    correction of it are recorded, each next read shows the new version's timeline."""
    assert [e["version"] for e in timeline(client, participant)] == [1, 2]

    recorded = post(client, participant, "sessions", session()).json()["event_id"]
    after_session = timeline(client, participant)
    fix = post(client, participant, "corrections", correction(recorded)).json()["event_id"]
    after_correction = timeline(client, participant)

    assert [e["version"] for e in after_session] == [1, 2, 3]
    assert after_session[-1]["corrected"] is False
    by_id = {e["event_id"]: e for e in after_correction}
    assert (by_id[recorded]["corrected"], by_id[recorded]["corrected_by"]) == (True, fix)


def test_the_cached_body_is_the_documented_timeline(client: TestClient, participant: str) -> None:
    """The bytes served are the `Timeline` model of the application's timeline, field for
    field, whether rendered for this read or taken from the cache."""
    post(client, participant, "sessions", session(started_at=days_after_admission(3)))
    post(client, participant, "sessions", session(started_at=days_after_admission(1)))
    application = client.app.state.application  # type: ignore[attr-defined]
    pid = UUID(participant)
    expected = Timeline(
        participant_id=pid,
        events=[TimelineEvent.of(entry) for entry in application.timeline(pid)],
    ).model_dump(mode="json")

    first = client.get(f"/v1/participants/{participant}/timeline").json()
    second = client.get(f"/v1/participants/{participant}/timeline").json()

    assert first == expected
    assert second == expected
    assert Timeline.model_validate(second).model_dump(mode="json") == expected


def test_every_cached_read_is_still_in_the_access_log(client: TestClient, participant: str) -> None:
    """Three reads of the same (cached) timeline write three access-log entries."""
    for _ in range(3):
        timeline(client, participant)

    access_log = client.app.state.access_log  # type: ignore[attr-defined]
    entries = access_log.entries(participant_id=UUID(participant))
    assert [e.record for e in entries].count("timeline") == 3


def test_a_write_through_another_app_is_seen(database_url: str, open_client: OpenClient) -> None:
    """Given two apps on one durable store and a timeline cached by the first, a session
    recorded through the second shows in the first app's next timeline read."""
    if database_url.startswith("memory"):
        pytest.skip("two in-memory applications do not share a store")
    first = open_client(database_url)
    second = open_client(database_url)
    participant = first.post(
        "/v1/participants",
        json={
            "program_id": "riverside-iop",
            "age_group": "adult",
            "level": "2.1",
            "pathway": "primary",
            "admitted_at": days_after_admission(0),
        },
    ).json()["participant_id"]
    assert len(timeline(first, participant)) == 2

    post(second, participant, "sessions", session())

    assert [e["version"] for e in timeline(first, participant)] == [1, 2, 3]
