"""42 CFR Part 2 consent: integrators see a participant's events only under a consent in force."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from api.http.dependencies import clock
from tests.e2e.feed_support import (
    RECIPIENT,
    auditor,
    clinician,
    grant,
    integrator,
    read_all,
    revoke,
    subjects,
)
from tests.e2e.support import NOW, PROGRAM, admission, post, session


def test_consent_opens_and_revocation_closes_the_feed(client: TestClient, participant: str) -> None:
    """Given a participant with events and no consent,
    when an integrator reads the feed, the participant is absent;
    after ConsentGranted to that integrator all its events appear;
    after ConsentRevoked they are gone again, from any position."""
    assert post(client, participant, "sessions", session()).status_code == 201

    events, _ = read_all(client, integrator())
    assert participant not in subjects(events)

    granted = grant(client, participant)
    assert granted.status_code == 201, granted.text
    consent_id = granted.json()["consent_id"]
    events, _ = read_all(client, integrator())
    assert [e["type"] for e in events if e["subject"] == participant] == [
        "org.continuum.participant.registered.v1",
        "org.continuum.participant.admitted.v1",
        "org.continuum.participant.session_attended.v1",
    ]
    assert participant not in subjects(read_all(client, integrator("other-recipient"))[0])

    assert revoke(client, participant, consent_id).status_code == 201
    assert participant not in subjects(read_all(client, integrator())[0])


def test_withheld_events_still_advance_the_cursor(client: TestClient, participant: str) -> None:
    """Given events the integrator may not see, when it reads, it gets no events but a
    `next_after` past them, so it never re-scans them."""
    page = client.get("/v1/events", headers=integrator()).json()
    assert page["events"] == []
    assert page["next_after"] >= 2


def test_scope_limits_the_kinds_of_event(client: TestClient, participant: str) -> None:
    """Given a consent scoped to sessions, the integrator receives sessions only, and the
    correction of a session it received (so it can retract it), but not the admission."""
    recorded = post(client, participant, "sessions", session()).json()
    assert grant(client, participant, scope=["SessionAttended"]).status_code == 201
    correction = {"event_id": recorded["event_id"], "reason": "Entered in error: duplicate."}
    assert post(client, participant, "corrections", correction).status_code == 201

    events, _ = read_all(client, integrator())
    assert [e["type"].split(".")[3] for e in events] == ["session_attended", "entry_corrected"]


def test_an_expired_consent_discloses_nothing(client: TestClient, participant: str) -> None:
    """Given a consent expiring in a day, when the feed is read two days later, nothing shows."""
    assert grant(client, participant, expires_in=timedelta(days=1)).status_code == 201
    assert participant in subjects(read_all(client, integrator())[0])
    client.app.dependency_overrides[clock] = lambda: NOW + timedelta(days=2)  # type: ignore[attr-defined]
    assert participant not in subjects(read_all(client, integrator())[0])


def test_every_disclosure_is_in_the_disclosure_log(client: TestClient, participant: str) -> None:
    """Given two consented participants, when an integrator pages through the feed,
    then the disclosure log holds, per participant, exactly the event ids it was sent."""
    other = client.post("/v1/participants", json=admission()).json()["participant_id"]
    for someone in (participant, other):
        assert grant(client, someone).status_code == 201
        assert post(client, someone, "sessions", session()).status_code == 201
    sent, _ = read_all(client, integrator(), limit=2)

    log = client.get("/v1/audit/disclosures", headers=auditor())
    assert log.status_code == 200, log.text
    rows = log.json()["disclosures"]
    assert {r["recipient"] for r in rows} == {RECIPIENT}
    assert {r["channel"] for r in rows} == {"feed"}
    logged = sorted(e for r in rows for e in r["event_ids"])
    assert logged == sorted(e["id"] for e in sent)
    for row in rows:
        assert {e["subject"] for e in sent if e["id"] in row["event_ids"]} == {
            row["participant_id"]
        }
    only_other = client.get(
        "/v1/audit/disclosures", params={"participant_id": other}, headers=auditor()
    ).json()["disclosures"]
    assert {r["participant_id"] for r in only_other} == {other}


def test_auditors_see_every_event_and_are_not_logged_as_disclosures(
    client: TestClient, participant: str
) -> None:
    """Auditors read the whole feed without consents; the disclosure log stays empty."""
    events, _ = read_all(client, auditor())
    assert participant in subjects(events)
    assert client.get("/v1/audit/disclosures", headers=auditor()).json()["disclosures"] == []


def test_who_may_do_what(client: TestClient, participant: str) -> None:
    """Clinicians grant consents in their programs but may not read the feed; integrators
    may not read the disclosure log; a clinician of another program cannot see the participant."""
    assert client.get("/v1/events", headers=clinician()).status_code == 403
    assert client.get("/v1/audit/disclosures", headers=integrator()).status_code == 403
    assert grant(client, participant, headers=clinician("elsewhere")).status_code == 404
    assert grant(client, participant, headers=integrator()).status_code == 403


def test_consents_are_listed_with_their_status(client: TestClient, participant: str) -> None:
    """GET .../consents lists each consent with recipient, scope and active/revoked status."""
    first = grant(client, participant).json()["consent_id"]
    grant(client, participant, recipient="state-reporting", scope=["Discharged"])
    revoke(client, participant, first)
    listed = client.get(f"/v1/participants/{participant}/consents", headers=clinician())
    assert listed.status_code == 200, listed.text
    rows = listed.json()["consents"]
    assert [(r["recipient_id"], r["scope"], r["status"]) for r in rows] == [
        (RECIPIENT, ["all"], "revoked"),
        ("state-reporting", ["Discharged"], "active"),
    ]
    assert rows[0]["revocation_reason"]
    again = revoke(client, participant, first)
    assert again.status_code == 200, again.text


def test_a_consent_refuses_unknown_scopes_and_past_expiry(
    client: TestClient, participant: str
) -> None:
    """A scope naming no event type, or an expiry already past, is refused with 422."""
    assert grant(client, participant, scope=["Gossip"]).status_code == 422
    assert grant(client, participant, expires_in=timedelta(days=-1)).status_code == 422
    assert PROGRAM


def test_a_retried_revocation_answers_the_same_receipt(
    client: TestClient, participant: str
) -> None:
    """Revoking twice (a retry after a lost answer) answers 201 then 200 with the same
    receipt, and records one revocation only."""
    consent_id = grant(client, participant).json()["consent_id"]
    first = revoke(client, participant, consent_id)
    second = revoke(client, participant, consent_id)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert first.json()["position"] > 0
    listed = client.get(f"/v1/participants/{participant}/consents", headers=auditor()).json()
    assert [c["status"] for c in listed["consents"]] == ["revoked"]
