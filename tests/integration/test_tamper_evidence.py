"""Tamper evidence against real stores: rows edited, deleted or written in the old shape with
plain SQL, on SQLite (`stored_events`) and PostgreSQL (`continuum_events`), plain and encrypted.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.cipher import AESCipher

from api.seed.commands import admission, recorded_session
from api.storage.privileges import MAINTENANCE_SETTING
from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication, Recorded
from domain.commands import ChangePolicy
from domain.participant import event_id_for

ADMITTED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = ADMITTED + timedelta(days=30)
USER = "clinician-1"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh SQLite file or PostgreSQL database."""
    return str(request.getfixturevalue(f"{request.param}_url"))


class RawStore:
    """Plain SQL on the events table, as someone with database access (not the app) would."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.kind = parse_store_url(url).kind
        self.table = "stored_events" if self.kind == "sqlite" else "continuum_events"
        self.mark = "?" if self.kind == "sqlite" else "%s"

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A connection past the append-only guards (api.storage.privileges), as the tables'
        owner has: on SQLite whoever can write the file drops the triggers; on PostgreSQL the
        owner (here the superuser the tests run as) sets the maintenance flag."""
        if self.kind == "sqlite":
            conn = sqlite3.connect(parse_store_url(self.url).settings["SQLITE_DBNAME"])
            try:
                for operation in ("update", "delete"):
                    conn.execute(f"DROP TRIGGER IF EXISTS {self.table}_no_{operation}")
                yield conn
                conn.commit()
            finally:
                conn.close()
        else:
            with psycopg.connect(self.url, autocommit=True) as pg:
                pg.execute(f"SET {MAINTENANCE_SETTING} = 'on'")
                yield pg

    def _id(self, participant_id: UUID) -> Any:
        # The SQLite recorder keeps ids as hex text; PostgreSQL as uuid.
        return participant_id.hex if self.kind == "sqlite" else participant_id

    def execute(self, statement: str, *params: Any) -> int:
        with self._cursor() as conn:
            return int(conn.execute(statement.replace("?", self.mark), params).rowcount)

    def replace_in_state(self, participant_id: UUID, version: int, old: str, new: str) -> None:
        """Edit text inside the stored JSON bytes of one row, in SQL."""
        if self.kind == "sqlite":
            statement = (
                f"UPDATE {self.table} SET state = CAST(REPLACE(CAST(state AS TEXT), ?, ?) AS BLOB)"
                " WHERE originator_id = ? AND originator_version = ?"
            )
        else:
            statement = (
                f"UPDATE {self.table} SET state = convert_to(replace(convert_from(state, 'UTF8'),"
                " ?, ?), 'UTF8') WHERE originator_id = ? AND originator_version = ?"
            )
        changed = self.execute(statement, old, new, self._id(participant_id), version)
        assert changed == 1

    def state(self, participant_id: UUID, version: int) -> bytes:
        with self._cursor() as conn:
            row = conn.execute(
                f"SELECT state FROM {self.table} WHERE originator_id = ? "
                "AND originator_version = ?".replace("?", self.mark),
                (self._id(participant_id), version),
            ).fetchone()
        return bytes(row[0])

    def set_state(self, participant_id: UUID, version: int, state: bytes) -> None:
        self.execute(
            f"UPDATE {self.table} SET state = ? WHERE originator_id = ? AND originator_version = ?",
            state,
            self._id(participant_id),
            version,
        )

    def delete(self, participant_id: UUID, version: int) -> None:
        self.execute(
            f"DELETE FROM {self.table} WHERE originator_id = ? AND originator_version = ?",
            self._id(participant_id),
            version,
        )

    def insert(self, participant_id: UUID, version: int, topic: str, state: bytes) -> None:
        self.execute(
            f"INSERT INTO {self.table} (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)",
            self._id(participant_id),
            version,
            topic,
            state,
        )


def open_app(url: str, *, cipher_key: str | None = None, **extra: str) -> ContinuumApplication:
    """The app without its aggregate cache, so every read goes to the store."""
    store = parse_store_url(url, pool_size=2, cipher_key=cipher_key)
    settings = {**store.settings, "AGGREGATE_CACHE_MAXSIZE": ""}
    return ContinuumApplication(env={**settings, **extra})


def admit(app: ContinuumApplication, participant_id: UUID | None = None) -> Recorded:
    return app.execute(
        admission(ADMITTED, participant_id=participant_id, program_id="prog-1", level="2.1"),
        recorded_by=USER,
        now=NOW,
    )


def session(app: ContinuumApplication, participant_id: UUID, day: int) -> Recorded:
    return app.execute(
        recorded_session(participant_id, ADMITTED + timedelta(days=day), 180),
        recorded_by=USER,
        now=NOW,
    )


def participant_with_sessions(app: ContinuumApplication, sessions: int = 4) -> UUID:
    """Registered (v1), Admitted (v2), then `sessions` sessions (v3...)."""
    participant_id = admit(app).participant_id
    for day in range(1, sessions + 1):
        session(app, participant_id, day)
    return participant_id


# ---- intact data ----------------------------------------------------------------------------


def test_intact_streams_verify(store_url: str) -> None:
    """Given participants and a program policy recorded through the app, when verified one by
    one and all together, every stream passes, sealed, with its events counted."""
    app = open_app(store_url)
    first = participant_with_sessions(app)
    second = participant_with_sessions(app, sessions=2)
    app.execute(
        ChangePolicy(program_id="prog-1", policy={"attendance_gap_days": 10}),
        recorded_by=USER,
        now=NOW,
    )

    report = app.verify_participant(first)
    assert report.ok and report.sealed
    assert (report.events, report.chained, report.legacy) == (6, 6, 0)

    progress: list[tuple[int, int]] = []
    reports = list(app.verify_all(lambda done, at: progress.append((done, at)), batch_size=3))
    assert [r.originator_id for r in reports[:2]] == [first, second]
    assert len(reports) == 3 and all(r.ok for r in reports)
    assert sum(r.events for r in reports) == 6 + 4 + 2
    assert progress[-1][0] == 3


# ---- tampering ------------------------------------------------------------------------------


def test_an_edited_row_fails_verify_at_that_event(store_url: str) -> None:
    """Given a session stored with duration 180, when its row's JSON is changed to 30 with
    plain SQL, then verify fails at exactly that event (id and version), as a content break,
    and the participant still loads."""
    app = open_app(store_url)
    participant_id = participant_with_sessions(app)
    raw = RawStore(store_url)

    raw.replace_in_state(participant_id, 4, '"duration_minutes":180', '"duration_minutes":30')

    report = app.verify_participant(participant_id)
    assert report.first_break is not None
    assert report.first_break.kind == "content"
    assert report.first_break.version == 4
    assert report.first_break.event_id == event_id_for(participant_id, 4)
    assert report.broken == 1
    assert app.get_participant(participant_id).version == 6


def test_a_deleted_row_shows_as_a_version_gap(store_url: str) -> None:
    """Given a stream of six events, when the fourth row is deleted with plain SQL, then verify
    fails at version 5 and says version 4 is missing."""
    app = open_app(store_url)
    participant_id = participant_with_sessions(app)
    RawStore(store_url).delete(participant_id, 4)

    report = app.verify_participant(participant_id)
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.version) == ("gap", 5)
    assert report.first_break.event_id == event_id_for(participant_id, 5)
    assert "version 4 is missing" in report.first_break.detail


def test_verify_all_names_the_tampered_stream_among_intact_ones(store_url: str) -> None:
    """Given three participants and one row edited, verify_all reports exactly that one."""
    app = open_app(store_url)
    ids = [participant_with_sessions(app, sessions=2) for _ in range(3)]
    RawStore(store_url).replace_in_state(ids[1], 3, '"recorded_by":"', '"recorded_by":"x')

    broken = [r for r in app.verify_all() if not r.ok]
    assert [r.originator_id for r in broken] == [ids[1]]
    assert broken[0].first_break is not None and broken[0].first_break.version == 3


# ---- streams written before the chain -------------------------------------------------------


def v1_state(fields: dict[str, Any], timestamp: datetime) -> bytes:
    """An event's stored JSON as a release without the chain wrote it: no hashes and no
    class_version, datetimes in the library's tagged ISO form."""

    def tagged(value: Any) -> Any:
        if isinstance(value, datetime):
            return {"_type_": "datetime_iso", "_data_": value.isoformat()}
        return value

    state = {"timestamp": timestamp, **fields}
    return json.dumps({k: tagged(v) for k, v in state.items()}, separators=(",", ":")).encode()


def write_v1_stream(raw: RawStore, participant_id: UUID) -> None:
    """Registered, Admitted and a session, written raw in the v1 shape under the same topics."""
    common = {"occurred_at": ADMITTED, "recorded_by": USER}
    raw.insert(
        participant_id,
        1,
        "continuum.Participant.Registered.v1",
        v1_state(
            {"originator_topic": "continuum.Participant", "program_id": "prog-1", **common},
            NOW,
        ),
    )
    raw.insert(
        participant_id,
        2,
        "continuum.Participant.Admitted.v1",
        v1_state(
            {
                **common,
                "program_id": "prog-1",
                "age_group": "adult",
                "level": "2.1",
                "criteria_edition": "3",
                "pathway": "primary",
                "referred_from_level": None,
                "episode": 1,
            },
            NOW,
        ),
    )
    raw.insert(
        participant_id,
        3,
        "continuum.Participant.SessionAttended.v1",
        v1_state(
            {
                "occurred_at": ADMITTED + timedelta(days=1),
                "recorded_by": USER,
                "service": "group",
                "duration_minutes": 180,
                "modality": None,
                "track": None,
            },
            NOW,
        ),
    )


def test_an_old_shape_stream_is_upcast_verified_and_chained_onward(store_url: str) -> None:
    """Given a stream written in the v1 shape (no hashes) by plain SQL, when read, its events
    are upcast as unchained and verify passes as 3 legacy events, unsealed; when new commands
    are recorded, they chain onward from the legacy prefix and verify passes, sealed."""
    app = open_app(store_url)
    raw = RawStore(store_url)
    participant_id = uuid4()
    write_v1_stream(raw, participant_id)

    events = app.stream(participant_id)
    assert [e.event_hash for e in events] == [None, None, None]
    assert events[2].duration_minutes == 180  # type: ignore[attr-defined]
    before = app.verify_participant(participant_id)
    assert before.ok and not before.sealed
    assert (before.legacy, before.chained) == (3, 0)

    session(app, participant_id, 2)
    session(app, participant_id, 3)
    after = app.verify_participant(participant_id)
    assert after.ok and after.sealed
    assert (after.legacy, after.chained, after.events) == (3, 2, 5)
    assert app.stream(participant_id)[3].previous_hash == before.head_hash

    # The first chained event now seals the legacy prefix.
    raw.replace_in_state(participant_id, 3, '"duration_minutes":180', '"duration_minutes":30')
    sealed = app.verify_participant(participant_id)
    assert sealed.first_break is not None
    assert (sealed.first_break.kind, sealed.first_break.version) == ("link", 4)


def test_a_snapshot_from_before_the_seal_is_replayed_and_verifies(sqlite_url: str) -> None:
    """Given a stream whose latest snapshot is the library's plain kind from before the chain
    (no seal, no last_hash), when the participant is read, it is replayed from its events (the
    unsealed snapshot is never trusted: counted as rejected), a command chains on, and verify
    finds the old snapshot agrees with the replay."""
    app = open_app(sqlite_url)
    participant_id = participant_with_sessions(app, sessions=2)
    app.take_snapshot(participant_id)
    with sqlite3.connect(parse_store_url(sqlite_url).settings["SQLITE_DBNAME"]) as conn:
        (state,) = conn.execute("SELECT state FROM stored_snapshots").fetchone()
        old = json.loads(state)
        for name in ("last_hash", "class_version"):
            old["state"].pop(name)
        for name in ("seal", "chain_hash"):
            old.pop(name)
        conn.execute(
            "UPDATE stored_snapshots SET state = ?, topic = ?",
            (json.dumps(old).encode(), "eventsourcing.domain:Snapshot"),
        )

    fresh = open_app(sqlite_url)
    participant = fresh.get_participant(participant_id)
    assert participant.last_hash == fresh.verify_participant(participant_id).head_hash
    assert fresh.snapshot_rejections.count == 1
    session(fresh, participant_id, 3)
    report = fresh.verify_participant(participant_id)
    assert report.ok and report.sealed and report.events == 5
    assert report.snapshot_breaks == ()


# ---- encrypted stores -----------------------------------------------------------------------


def test_encrypted_store_verifies_and_names_a_tampered_ciphertext(store_url: str) -> None:
    """Given a store encrypted with CIPHER_KEY, intact streams verify; when one byte of a
    row's ciphertext is flipped with plain SQL, verify reports that event as unreadable (the
    MAC check fails) instead of crashing, and the other events still count."""
    key = AESCipher.create_key(16)
    app = open_app(store_url, cipher_key=key)
    participant_id = participant_with_sessions(app)
    raw = RawStore(store_url)
    assert b"duration_minutes" not in raw.state(participant_id, 4)
    assert app.verify_participant(participant_id).ok

    ciphertext = bytearray(raw.state(participant_id, 4))
    ciphertext[-5] ^= 0xFF
    raw.set_state(participant_id, 4, bytes(ciphertext))

    report = app.verify_participant(participant_id)
    assert report.first_break is not None
    assert report.first_break.kind == "unreadable"
    assert report.first_break.version == 4
    assert report.first_break.event_id == event_id_for(participant_id, 4)
    assert "duration" not in report.first_break.detail
    assert report.events == 6
