"""The seven writes: each appends its event and answers 201 with the receipt and headers."""

from __future__ import annotations

from uuid import UUID, uuid4

from fastapi.testclient import TestClient

from tests.e2e.support import (
    admission,
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


def last_event_type(client: TestClient, participant_id: str) -> str:
    events = client.get(f"/v1/participants/{participant_id}/timeline").json()["events"]
    latest = max(events, key=lambda e: e["version"])
    return str(latest["type"])


def test_admission_opens_a_stream_of_two_events(client: TestClient) -> None:
    """Given no participant, when one is admitted, then 201 names the new stream at version 2
    with its Admitted event, log position, ETag and Location."""
    response = client.post("/v1/participants", json=admission())

    assert response.status_code == 201
    receipt = response.json()
    assert set(receipt) == {"participant_id", "event_id", "version", "position"}
    assert receipt["version"] == 2
    assert isinstance(receipt["position"], int)
    assert response.headers["ETag"] == '"2"'
    assert response.headers["Location"] == f"/v1/participants/{receipt['participant_id']}"
    assert last_event_type(client, receipt["participant_id"]) == "Admitted"


def test_admission_keeps_a_participant_id_given_by_the_caller(client: TestClient) -> None:
    """When the admission names a participant_id, the stream is opened under that id."""
    chosen = str(uuid4())

    response = client.post("/v1/participants", json=admission(participant_id=chosen))

    assert response.status_code == 201
    assert response.json()["participant_id"] == chosen


def test_level_change_down_is_a_step_down(client: TestClient, participant: str) -> None:
    """Given a participant at 2.1, when moved to 1, then a SteppedDown event is appended."""
    response = post(client, participant, "level-changes", level_change(to_level="1"))

    assert response.status_code == 201
    assert response.json()["version"] == 3
    assert response.headers["ETag"] == '"3"'
    assert last_event_type(client, participant) == "SteppedDown"
    assert client.get(f"/v1/participants/{participant}").json()["level"] == "1"


def test_level_change_up_is_a_step_up(client: TestClient, participant: str) -> None:
    """Given a participant at 2.1, when moved to 2.5, then a SteppedUp event is appended."""
    response = post(client, participant, "level-changes", level_change(to_level="2.5"))

    assert response.status_code == 201
    assert last_event_type(client, participant) == "SteppedUp"


def test_attended_session(client: TestClient, participant: str) -> None:
    """A session with attended=true is recorded as SessionAttended."""
    response = post(client, participant, "sessions", session(attended=True))

    assert response.status_code == 201
    assert last_event_type(client, participant) == "SessionAttended"


def test_missed_session(client: TestClient, participant: str) -> None:
    """A session with attended=false is recorded as SessionMissed."""
    response = post(client, participant, "sessions", session(attended=False))

    assert response.status_code == 201
    assert last_event_type(client, participant) == "SessionMissed"


def test_screening(client: TestClient, participant: str) -> None:
    """A drug screen is recorded with its results and the prescribed substances."""
    response = post(client, participant, "screenings", screening())

    assert response.status_code == 201
    assert last_event_type(client, participant) == "ScreeningResultRecorded"


def test_reassessment(client: TestClient, participant: str) -> None:
    """A reassessment with six ratings and both levels is recorded as Reassessed."""
    response = post(client, participant, "reassessments", reassessment())

    assert response.status_code == 201
    assert last_event_type(client, participant) == "Reassessed"


def test_discharge(client: TestClient, participant: str) -> None:
    """Given an active participant, when discharged, then the status reads discharged."""
    response = post(client, participant, "discharge", discharge())

    assert response.status_code == 201
    state = client.get(f"/v1/participants/{participant}").json()
    assert state["status"] == "discharged"
    assert state["discharged_at"] == discharge()["discharged_at"]


def test_correction(client: TestClient, participant: str) -> None:
    """Given a recorded session, when corrected, then an EntryCorrected event is appended."""
    entry = post(client, participant, "sessions", session()).json()["event_id"]

    response = post(client, participant, "corrections", correction(entry))

    assert response.status_code == 201
    assert last_event_type(client, participant) == "EntryCorrected"


def test_readmission_opens_a_new_episode(client: TestClient, participant: str) -> None:
    """Given a discharged participant, when admitted again under the same id, then a second
    episode opens in the same stream."""
    post(client, participant, "discharge", discharge(discharged_at=days_after_admission(10)))

    response = client.post(
        "/v1/participants",
        json=admission(participant_id=participant, admitted_at=days_after_admission(20)),
    )

    assert response.status_code == 201
    assert response.json()["participant_id"] == participant
    state = client.get(f"/v1/participants/{participant}").json()
    assert (state["status"], state["episode"], state["version"]) == ("active", 2, 4)


def test_event_id_of_the_receipt_is_the_timeline_entry(
    client: TestClient, participant: str
) -> None:
    """The receipt's event_id names the event as the timeline shows it."""
    receipt = post(client, participant, "sessions", session()).json()

    events = client.get(f"/v1/participants/{participant}/timeline").json()["events"]

    matching = [e for e in events if e["event_id"] == receipt["event_id"]]
    assert [e["version"] for e in matching] == [receipt["version"]]
    assert UUID(receipt["event_id"])
    assert stream_version(client, participant) == receipt["version"]
