"""Reads of one participant: current state, and the timeline in clinical order."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.e2e.support import (
    ADMIN_SUB,
    ADMITTED_AT,
    NOW,
    PROGRAM,
    correction,
    days_after_admission,
    iso,
    post,
    session,
)


def test_participant_state(client: TestClient, participant: str) -> None:
    """GET returns the contract's fields, with the version as ETag."""
    response = client.get(f"/v1/participants/{participant}")

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert response.json() == {
        "participant_id": participant,
        "program_id": PROGRAM,
        "status": "active",
        "level": "2.1",
        "level_since": iso(ADMITTED_AT),
        "version": 2,
        "episode": 1,
        "age_group": "adult",
        "criteria_edition": "3",
        "admitted_at": iso(ADMITTED_AT),
        "discharged_at": None,
    }


def test_timeline_is_in_clinical_order(client: TestClient, participant: str) -> None:
    """Given a session on day 5 recorded first and a backdated day-2 session recorded later,
    the timeline lists the day-2 session before the day-5 one (clinical, not recorded order)."""
    day5 = post(client, participant, "sessions", session(started_at=days_after_admission(5)))
    day2 = post(client, participant, "sessions", session(started_at=days_after_admission(2)))

    events = client.get(f"/v1/participants/{participant}/timeline").json()["events"]

    assert [e["type"] for e in events] == [
        "Registered",
        "Admitted",
        "SessionAttended",
        "SessionAttended",
    ]
    assert [e["event_id"] for e in events[2:]] == [
        day2.json()["event_id"],
        day5.json()["event_id"],
    ]
    assert [e["version"] for e in events] == [1, 2, 4, 3]


def test_timeline_entry_shape(client: TestClient, participant: str) -> None:
    """Each entry carries ids, both times, who recorded it and the event's own data."""
    post(client, participant, "sessions", session(duration_minutes=90, track="evening"))

    entry = client.get(f"/v1/participants/{participant}/timeline").json()["events"][-1]

    assert entry["type"] == "SessionAttended"
    assert entry["occurred_at"] == days_after_admission(1)
    assert entry["recorded_at"] == iso(NOW)
    assert entry["recorded_by"] == ADMIN_SUB  # the sub of the caller's token
    assert entry["data"] == {
        "service": "group",
        "duration_minutes": 90,
        "modality": "CBT",
        "track": "evening",
    }
    assert (entry["corrected"], entry["corrected_by"]) == (False, None)


def test_corrected_entry_is_flagged(client: TestClient, participant: str) -> None:
    """Given a session marked entered-in-error, the timeline keeps it, flagged corrected, and
    names the correcting entry, which carries the corrected event's id."""
    wrong = post(client, participant, "sessions", session()).json()["event_id"]
    fix = post(client, participant, "corrections", correction(wrong)).json()["event_id"]

    events = client.get(f"/v1/participants/{participant}/timeline").json()["events"]

    by_id = {e["event_id"]: e for e in events}
    assert (by_id[wrong]["corrected"], by_id[wrong]["corrected_by"]) == (True, fix)
    assert by_id[fix]["type"] == "EntryCorrected"
    assert by_id[fix]["data"]["corrected_event_id"] == wrong
    assert by_id[fix]["corrected"] is False
