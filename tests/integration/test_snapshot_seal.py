"""The snapshot attack: a participant's snapshot edited in SQL to move them to another program.

A participant with 105 events has a snapshot at version 100. Someone with database access
rewrites that snapshot (its program, in plain JSON; or, on an encrypted store, another
participant's ciphertext copied over it). After a restart the edited snapshot must never
decide who reads the record: the participant's own program's clinician still reads, the other
program's clinician gets 404, and `verify` (CLI and HTTP) reports the snapshot. On SQLite and
PostgreSQL, with and without a cipher key.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.bootstrap import open_service
from api.cli.main import main
from api.http.app import create_app
from api.http.dependencies import clock
from api.security.tokens import Role
from api.seed.commands import admission, recorded_session
from api.settings import Settings
from api.storage.cipher import create_cipher_key
from domain.snapshot_seal import compute_seal
from tests.e2e.support import ADMITTED_AT, NOW, TEST_JWT_SECRET, bearer

HOME, OTHER = "riverside-iop", "harbor-php"
EVENTS = 105


@pytest.fixture(
    params=[
        ("sqlite", False),
        ("sqlite", True),
        pytest.param(("postgres", False), marks=pytest.mark.postgres),
        pytest.param(("postgres", True), marks=pytest.mark.postgres),
    ],
    ids=["sqlite-plain", "sqlite-encrypted", "postgres-plain", "postgres-encrypted"],
)
def settings(request: pytest.FixtureRequest) -> Settings:
    kind, encrypted = request.param
    return Settings(
        database_url=str(request.getfixturevalue(f"{kind}_url")),
        demo=False,
        log_format="console",
        jwt_secret=TEST_JWT_SECRET,
        cipher_key=create_cipher_key() if encrypted else None,
    )


def long_stream(settings: Settings, program: str) -> UUID:
    """A participant of `program` with EVENTS events (a snapshot at version 100)."""
    with open_service(settings) as service:
        app = service.application
        pid = app.execute(
            admission(ADMITTED_AT, program_id=program, level="2.1"), recorded_by="t", now=NOW
        ).participant_id
        for hour in range(EVENTS - 2):
            at = ADMITTED_AT + timedelta(days=1, hours=hour)
            app.execute(recorded_session(pid, at, 30), recorded_by="t", now=NOW)
        assert app.snapshots is not None
        assert [s.originator_version for s in app.snapshots.get(pid)] == [100]
    return pid


class Snapshots:
    """The snapshots table in plain SQL, as someone with database access would edit it."""

    def __init__(self, settings: Settings) -> None:
        self.url = str(settings.database_url)
        self.sqlite = self.url.startswith("sqlite")

    def _run(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        if self.sqlite:
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as db:
                return list(db.execute(statement.replace("%s", "?"), params).fetchall())
        with psycopg.connect(self.url, autocommit=True) as db:
            cursor = db.execute(statement.replace("stored_", "continuum_"), params)
            return list(cursor.fetchall()) if cursor.description else []

    def _id(self, pid: UUID) -> Any:
        return pid.hex if self.sqlite else pid

    def state(self, pid: UUID) -> bytes:
        rows = self._run(
            "SELECT state FROM stored_snapshots WHERE originator_id = %s", (self._id(pid),)
        )
        return bytes(rows[0][0])

    def set_state(self, pid: UUID, state: bytes) -> None:
        self._run(
            "UPDATE stored_snapshots SET state = %s WHERE originator_id = %s",
            (state, self._id(pid)),
        )


def started(settings: Settings) -> TestClient:
    app = create_app(settings)
    app.dependency_overrides[clock] = lambda: NOW
    return TestClient(app)


def test_an_edited_snapshot_never_changes_who_reads_and_verify_reports_it(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a 105-event participant of riverside-iop with a snapshot at 100, when the snapshot
    is rewritten to say harbor-php (plain JSON edited; encrypted: a harbor-php participant's
    snapshot ciphertext copied over it) and the service restarts, then the riverside clinician
    reads the whole timeline, the harbor clinician gets 404, and both verifies report it."""
    pid = long_stream(settings, HOME)
    raw = Snapshots(settings)
    if settings.cipher_key:
        assert HOME.encode() not in raw.state(pid)  # unreadable: swap a whole ciphertext
        raw.set_state(pid, raw.state(long_stream(settings, OTHER)))
    else:
        edited = raw.state(pid).replace(HOME.encode(), OTHER.encode())
        assert edited != raw.state(pid)
        raw.set_state(pid, edited)

    home = bearer(Role.CLINICIAN, programs=(HOME,))
    other = bearer(Role.CLINICIAN, programs=(OTHER,))
    with started(settings) as client:
        timeline = client.get(f"/v1/participants/{pid}/timeline", headers=home)
        assert timeline.status_code == 200, timeline.text
        assert len(timeline.json()["events"]) == EVENTS
        assert client.get(f"/v1/participants/{pid}", headers=home).status_code == 200
        for path in ("", "/timeline"):
            assert client.get(f"/v1/participants/{pid}{path}", headers=other).status_code == 404
        report = client.get(f"/v1/audit/participants/{pid}/verify", headers=bearer(Role.AUDITOR))
        assert report.status_code == 200, report.text
        body = report.json()
        assert body["ok"] is False and body["first_break"] is None
        assert [b["version"] for b in body["snapshot_breaks"]] == [100]
        assert body["snapshot_breaks"][0]["kind"] == "snapshot"
        assert client.get("/healthz").json()["snapshots_rejected"] >= 1

    monkeypatch.setenv("CONTINUUM_DATABASE_URL", str(settings.database_url))
    if settings.cipher_key:
        monkeypatch.setenv("CONTINUUM_CIPHER_KEY", settings.cipher_key)
    else:
        monkeypatch.delenv("CONTINUUM_CIPHER_KEY", raising=False)
    capsys.readouterr()
    assert main(["verify", "--all"]) == 1
    out = capsys.readouterr().out
    assert f"{pid}: BROKEN: snapshot: the snapshot at version 100" in out
    assert OTHER not in out and HOME not in out  # ids and versions, never the content


def test_intact_snapshots_are_used_and_verify(settings: Settings) -> None:
    """Untouched, the sealed snapshot is what a fresh start rebuilds from (no rejection) and
    verify finds it agrees with a replay of the events."""
    pid = long_stream(settings, HOME)
    with open_service(settings, aggregate_cache=False) as service:
        app = service.application
        assert app.get_participant(pid).program_id == HOME
        assert app.snapshot_rejections.count == 0
        report = app.verify_participant(pid)
        assert report.ok and report.snapshot_breaks == ()


@pytest.fixture
def plain_sqlite(sqlite_url: str) -> Iterator[Settings]:
    yield Settings(database_url=sqlite_url, demo=False, jwt_secret=TEST_JWT_SECRET)


def test_a_reforged_checksum_still_fails_verify_by_replay(plain_sqlite: Settings) -> None:
    """Without a cipher key the seal is a plain SHA-256 anyone can recompute: an edit with a
    recomputed seal passes the load check, but verify replays the events and reports it."""
    pid = long_stream(plain_sqlite, HOME)
    raw = Snapshots(plain_sqlite)
    stored = json.loads(raw.state(pid))
    stored["state"]["program_id"] = OTHER
    with open_service(plain_sqlite) as service:
        assert service.application.snapshots is not None
        snapshot: Any = next(iter(service.application.snapshots.get(pid)))
        stored["seal"] = compute_seal(
            None,
            originator_id=pid,
            originator_version=100,
            topic=snapshot.topic,
            chain_hash=snapshot.chain_hash,
            state={**snapshot.state, "program_id": OTHER},
        )
    raw.set_state(pid, json.dumps(stored).encode())
    with open_service(plain_sqlite, aggregate_cache=False) as service:
        report = service.application.verify_participant(pid)
    assert not report.ok
    assert [b.detail for b in report.snapshot_breaks] == [
        "the snapshot at version 100: its state differs from a replay of the events"
    ]


def test_an_undecryptable_snapshot_is_replayed_past_and_reported(sqlite_url: str) -> None:
    """On an encrypted store, a snapshot whose ciphertext was damaged fails its MAC: the read
    replays the events instead (counted as rejected) and verify names the snapshot."""
    settings = Settings(
        database_url=sqlite_url,
        demo=False,
        jwt_secret=TEST_JWT_SECRET,
        cipher_key=create_cipher_key(),
    )
    pid = long_stream(settings, HOME)
    raw = Snapshots(settings)
    damaged = bytearray(raw.state(pid))
    damaged[-5] ^= 0xFF
    raw.set_state(pid, bytes(damaged))
    with open_service(settings, aggregate_cache=False) as service:
        app = service.application
        participant = app.get_participant(pid)
        assert (participant.program_id, participant.version) == (HOME, EVENTS)
        assert app.snapshot_rejections.count == 1
        report = app.verify_participant(pid)
    assert report.first_break is None
    [found] = report.snapshot_breaks
    assert found.version == 100 and "unreadable" in found.detail
