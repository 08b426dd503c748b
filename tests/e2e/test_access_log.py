"""The access log: every read of a participant's record is recorded before it is served.

Runs on each backend (memory, SQLite, PostgreSQL): entries name who, role, participant,
endpoint, purpose, time and request id; a failed write refuses the read (503); auditors page
through the log; the table refuses UPDATE and DELETE in the database itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import cast
from uuid import UUID

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.security.tokens import Role
from api.storage.access_log import AccessEntry, AccessLog, MemoryAccessLog
from tests.e2e.support import NOW, PROGRAM, OpenClient, admission, bearer, iso, post, session

LOG = "/v1/audit/access-log"


def _entries(client: TestClient, **params: object) -> list[dict[str, object]]:
    response = client.get(LOG, params=params, headers=bearer(Role.AUDITOR))
    assert response.status_code == 200, response.text
    entries: list[dict[str, object]] = response.json()["entries"]
    return entries


def test_a_read_appends_an_entry(client: TestClient, participant: str) -> None:
    """Given a clinician reading a participant's state, then the access log holds who, role,
    participant, the route template, purpose TREAT (the default), the time and request id."""
    clinician = bearer(Role.CLINICIAN, sub="dr-17", programs=(PROGRAM,))

    response = client.get(f"/v1/participants/{participant}", headers=clinician)

    assert response.status_code == 200
    [entry] = _entries(client)
    assert entry == {
        "id": entry["id"],
        "at": iso(NOW),
        "sub": "dr-17",
        "role": "clinician",
        "participant_id": participant,
        "record": "state",
        "endpoint": "/v1/participants/{participant_id}",
        "purpose": "TREAT",
        "request_id": response.headers["X-Request-ID"],
    }


def test_each_record_read_is_logged_with_its_purpose(client: TestClient, participant: str) -> None:
    """Timeline and state reads each append an entry, carrying the X-Purpose-Of-Use given;
    writes and the access log's own reads append none."""
    post(client, participant, "sessions", session())
    client.get(f"/v1/participants/{participant}/timeline", headers={"X-Purpose-Of-Use": "HPAYMT"})
    client.get(f"/v1/participants/{participant}", headers={"X-Purpose-Of-Use": "ETREAT"})

    entries = _entries(client)

    assert [(e["record"], e["purpose"], e["sub"]) for e in entries] == [
        ("timeline", "HPAYMT", "test-admin"),
        ("state", "ETREAT", "test-admin"),
    ]
    assert entries[0]["endpoint"] == "/v1/participants/{participant_id}/timeline"


def test_unknown_purpose_is_refused_and_not_served(client: TestClient, participant: str) -> None:
    """A purpose outside the HL7 PurposeOfUse codes accepted is 422 naming the header, and the
    record is neither served nor logged."""
    response = client.get(
        f"/v1/participants/{participant}", headers={"X-Purpose-Of-Use": "CURIOSITY"}
    )

    assert response.status_code == 422
    assert response.json()["field"] == "X-Purpose-Of-Use"
    assert _entries(client) == []


def test_refused_reads_are_not_logged_as_reads(client: TestClient, participant: str) -> None:
    """A read refused by role (integrator: 403) or by program (404) serves nothing and logs no
    read of the record."""
    integrator = client.get(f"/v1/participants/{participant}", headers=bearer(Role.INTEGRATOR))
    elsewhere = client.get(
        f"/v1/participants/{participant}",
        headers=bearer(Role.CLINICIAN, programs=("harbor-php",)),
    )

    assert (integrator.status_code, elsewhere.status_code) == (403, 404)
    assert _entries(client) == []


class BrokenAccessLog(MemoryAccessLog):
    def _insert_many(self, entries: Sequence[AccessEntry]) -> list[int]:
        raise OSError("disk full")


def test_a_failed_access_log_write_fails_the_read(client: TestClient, participant: str) -> None:
    """Given an access log that cannot be written, a read answers 503 access_log_unavailable
    and carries none of the record: no unlogged reads."""
    app = cast(FastAPI, client.app)
    working: AccessLog = app.state.access_log
    app.state.access_log = BrokenAccessLog()
    try:
        state = client.get(f"/v1/participants/{participant}")
        timeline = client.get(f"/v1/participants/{participant}/timeline")
    finally:
        app.state.access_log = working

    for response in (state, timeline):
        assert response.status_code == 503
        assert response.json()["error"] == "access_log_unavailable"
        assert "program_id" not in response.text
        assert "events" not in response.json()


def test_auditors_page_through_the_log(client: TestClient, participant: str) -> None:
    """The log filters by participant and pages by entry id: `next_after` is the last id of a
    full page (null on the last one), and the next page starts after it."""
    other = client.post("/v1/participants", json=admission(program_id="x"))
    for _ in range(3):
        client.get(f"/v1/participants/{participant}")
    client.get(f"/v1/participants/{other.json()['participant_id']}")

    auditor = bearer(Role.AUDITOR)
    first = client.get(LOG, params={"participant_id": participant, "limit": 2}, headers=auditor)
    rest = client.get(
        LOG,
        params={"participant_id": participant, "limit": 2, "after": first.json()["next_after"]},
        headers=auditor,
    )

    assert len(first.json()["entries"]) == 2
    assert first.json()["next_after"] == first.json()["entries"][-1]["id"]
    assert len(rest.json()["entries"]) == 1
    assert rest.json()["next_after"] is None
    assert len(_entries(client)) == 4
    ids = [e["id"] for e in first.json()["entries"] + rest.json()["entries"]]
    assert ids == sorted(ids)
    assert {e["participant_id"] for e in first.json()["entries"]} == {participant}


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.INTEGRATOR])
def test_only_auditors_and_admins_read_the_log(client: TestClient, role: Role) -> None:
    """Clinicians and integrators are refused the access log (403); auditors and admins read
    it."""
    refused = client.get(LOG, headers=bearer(role, programs=(PROGRAM,)))

    assert refused.status_code == 403
    assert client.get(LOG, headers=bearer(Role.AUDITOR)).status_code == 200
    assert client.get(LOG).status_code == 200  # the default client is an admin


# ---- durable and append-only ------------------------------------------------------------------


@pytest.mark.parametrize("store_fixture", ["sqlite_url", "postgres_url"])
def test_entries_survive_a_restart(
    store_fixture: str, request: pytest.FixtureRequest, open_client: OpenClient
) -> None:
    """Given a logged read, when the app is restarted on the same store, the entry is still
    there."""
    url = str(request.getfixturevalue(store_fixture))
    before = open_client(url)
    participant = before.post("/v1/participants", json=admission()).json()["participant_id"]
    before.get(f"/v1/participants/{participant}")

    after = open_client(url)

    assert [e["participant_id"] for e in _entries(after)] == [participant]


def test_sqlite_refuses_update_and_delete(sqlite_url: str, open_client: OpenClient) -> None:
    """The SQLite access_log table aborts UPDATE and DELETE (triggers), whoever runs them."""
    client = open_client(sqlite_url)
    participant = client.post("/v1/participants", json=admission()).json()["participant_id"]
    client.get(f"/v1/participants/{participant}")
    path = sqlite_url.removeprefix("sqlite:///")

    with sqlite3.connect(path) as db:
        for statement in ("UPDATE access_log SET sub='someone-else'", "DELETE FROM access_log"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(statement)
        assert db.execute("SELECT sub FROM access_log").fetchall() == [("test-admin",)]


def test_postgres_refuses_update_delete_and_truncate(
    postgres_url: str, open_client: OpenClient
) -> None:
    """The PostgreSQL access log table raises on UPDATE, DELETE and TRUNCATE (triggers), even
    for a superuser session outside the service; its rows stay as written."""
    client = open_client(postgres_url)
    participant = client.post("/v1/participants", json=admission()).json()["participant_id"]
    client.get(f"/v1/participants/{participant}")

    with psycopg.connect(postgres_url, autocommit=True) as db:
        for statement in (
            "UPDATE continuum_access_log SET sub = 'someone-else'",
            "DELETE FROM continuum_access_log",
            "TRUNCATE continuum_access_log",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                db.execute(statement)
        rows = db.execute("SELECT sub, participant_id FROM continuum_access_log").fetchall()
    assert rows == [("test-admin", UUID(participant))]
