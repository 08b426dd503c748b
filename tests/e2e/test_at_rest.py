"""Encryption at rest of every table: marker strings written through the API, then every table
of the store dumped raw. With CONTINUUM_CIPHER_KEY no table holds any marker (events, snapshots,
views, access log, disclosure log, idempotency receipts, checkpoints); without one, the same dump
finds them, so the search itself is shown to work. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.bootstrap import open_service
from api.http.app import create_app
from api.http.dependencies import clock
from api.security.tokens import Role
from api.settings import Settings
from api.storage.cipher import create_cipher_key
from tests.e2e.support import (
    NOW,
    TEST_JWT_SECRET,
    admission,
    bearer,
    level_change,
    post,
    reassessment,
    session,
)

# Distinct, unlikely strings: one per kind of value the API stores.
MARKERS = {
    "program": "mkprogram-q7w3",
    "track": "mktrack-z9x1",
    "reason": "mkreason-b4n8",
    "rationale": "mkrationale-r2t6",
    "recipient": "mkrecipient-h5j0",
    "idempotency_key": "mkidemkey-c3v7",
    "request_id": "0badc0de5eed4a11ce5e",  # request ids the service accepts are hex
    "sub": "mksub-k1m4",
}
CHECKPOINT = f"nats:CONTINUUM:{MARKERS['recipient']}"  # as the NATS relay names its position


def _settings(url: str, key: str | None) -> Settings:
    return Settings(
        database_url=url, demo=False, log_format="console", jwt_secret=TEST_JWT_SECRET,
        cipher_key=key,
    )  # fmt: skip


def _write_markers(url: str, key: str | None) -> None:
    """Every marker stored through the API (the checkpoint as the relay stores it)."""
    app = create_app(_settings(url, key))
    app.dependency_overrides[clock] = lambda: NOW
    admin = bearer(Role.ADMIN, sub=MARKERS["sub"])
    with TestClient(app, headers=admin) as client:
        admitted = client.post(
            "/v1/participants",
            json=admission(program_id=MARKERS["program"]),
        )
        assert admitted.status_code == 201, admitted.text
        pid = admitted.json()["participant_id"]
        written = post(
            client, pid, "sessions", session(track=MARKERS["track"]),
            headers={"Idempotency-Key": MARKERS["idempotency_key"]},
        )  # fmt: skip
        assert written.status_code == 201, written.text
        assert post(client, pid, "reassessments", reassessment(
            rationale=MARKERS["rationale"])).status_code == 201  # fmt: skip
        assert post(client, pid, "level-changes", level_change(
            reason=MARKERS["reason"])).status_code == 201  # fmt: skip
        consent = client.post(
            f"/v1/participants/{pid}/consents",
            json={"recipient_id": MARKERS["recipient"], "scope": ["all"],
                  "expires_at": "2027-01-01T00:00:00Z"},
        )  # fmt: skip
        assert consent.status_code == 201, consent.text
        feed = client.get("/v1/events", headers=bearer(Role.INTEGRATOR, sub=MARKERS["recipient"]))
        assert feed.status_code == 200 and feed.json()["events"], feed.text
        timeline = client.get(
            f"/v1/participants/{pid}/timeline", headers={"X-Request-ID": MARKERS["request_id"]}
        )
        assert timeline.status_code == 200  # an access-log entry naming the request id
        # Read back through the API: the values are all there for those allowed to see them.
        state = client.get(f"/v1/participants/{pid}").json()
        assert state["program_id"] == MARKERS["program"]
        again = post(
            client, pid, "sessions", session(track=MARKERS["track"]),
            headers={"Idempotency-Key": MARKERS["idempotency_key"]},
        )  # fmt: skip
        assert again.json() == written.json()
        caseload = client.get("/v1/participants", params={"program_id": MARKERS["program"]})
        assert [p["participant_id"] for p in caseload.json()["participants"]] == [pid]
        disclosed = client.get("/v1/audit/disclosures", params={"recipient": MARKERS["recipient"]})
        assert disclosed.status_code == 200 and disclosed.json()["disclosures"], disclosed.text
    with open_service(_settings(url, key)) as service:
        service.disclosure_log.record([], checkpoint=(CHECKPOINT, 7))
        assert service.disclosure_log.checkpoint(CHECKPOINT) == 7
        entries = service.access_log.entries()
        assert {e.sub for e in entries} == {MARKERS["sub"]}
        assert MARKERS["request_id"] in {e.request_id for e in entries}


def _dump_sqlite(url: str) -> dict[str, bytes]:
    dump: dict[str, bytes] = {}
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cells = [
                v if isinstance(v, bytes) else str(v).encode()
                for row in db.execute(f'SELECT * FROM "{table}"')
                for v in row
            ]
            dump[table] = b"\x00".join(cells)
    return dump


def _dump_postgres(url: str) -> dict[str, bytes]:
    dump: dict[str, bytes] = {}
    with psycopg.connect(url) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema='public'"
            )
        ]
        for table in tables:
            rows = db.execute(f'SELECT t::text FROM "{table}" t').fetchall()
            dump[table] = "\x00".join(r[0] for r in rows).encode()
    return dump


def _found(dump: dict[str, bytes]) -> dict[str, list[str]]:
    """Marker name -> the tables holding it (as text, or as a bytea's hex)."""
    found: dict[str, list[str]] = {}
    for name, marker in MARKERS.items():
        spelled = (marker.encode(), marker.encode().hex().encode())
        tables = [t for t, raw in dump.items() if any(s in raw for s in spelled)]
        if tables:
            found[name] = tables
    return found


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[str]:
    yield str(request.getfixturevalue(f"{request.param}_url"))


def _dump(url: str) -> dict[str, bytes]:
    return _dump_sqlite(url) if url.startswith("sqlite") else _dump_postgres(url)


def test_no_table_of_an_encrypted_store_holds_a_marker(store: str) -> None:
    """Given markers written through the API with a cipher key, when every table is dumped,
    then no marker appears in any of them, and the API still reads every one back."""
    _write_markers(store, create_cipher_key())
    dump = _dump(store)
    assert {"continuum_schema_version"} <= set(dump)
    assert _found(dump) == {}


def test_the_same_dump_of_a_plain_store_finds_the_markers(store: str) -> None:
    """Control: without a key the same writes leave the markers readable in the side tables
    (the views, access log, disclosure log, receipts), so the dump above would have seen them."""
    _write_markers(store, None)
    found = _found(_dump(store))
    expected = {  # marker -> a table (by part of its name) it must be found in
        "program": "participant_views",
        "idempotency_key": "idempotency",
        "recipient": "disclosures",
        "sub": "access_log",
        "request_id": "access_log",
    }
    for name, table in expected.items():
        assert any(table in t for t in found.get(name, [])), (name, found.get(name))
    assert any("checkpoint" in t for t in found["recipient"])
