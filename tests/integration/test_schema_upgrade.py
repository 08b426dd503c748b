"""Schema migrations: a store created by the previous release is upgraded and read back.

The previous release's store is built here as that release built it: events through the
library (their shape did not change), a receipt and the views through the same code paths, and
the side tables from their DDL and rows copied verbatim from that release (`PREVIOUS_*` below),
in plain text although the events were encrypted, as that release left them. Opening it with
this release migrates it (versions 1 and 2): every cell is then sealed, and everything reads
back as before. On SQLite and PostgreSQL, with and without a cipher key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import psycopg
import pytest

from api.bootstrap import open_service
from api.settings import Settings
from api.storage.cipher import create_cipher_key
from api.storage.migrations import CURRENT_VERSION, SchemaTooNew
from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication
from domain.commands import Admit, Recorded, RecordSession
from domain.service.idempotency import IdempotencyKey
from projections.participant_view import ParticipantViewFold
from projections.postgres_views import PostgresViewStore
from projections.runner import ViewRunner
from projections.sqlite_views import SQLiteViewStore

SUB, RECIPIENT, KEY, PROGRAM = "mk-sub-u1", "mk-recipient-u2", "mk-idem-u3", "mk-program-u4"
CHECKPOINT = f"nats:CONTINUUM:{RECIPIENT}"
AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

# The previous release's DDL and rows, verbatim (api/storage/access_log.py, disclosure_log.py).
PREVIOUS_SQLITE = [
    "CREATE TABLE IF NOT EXISTS access_log (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "at TEXT NOT NULL, sub TEXT NOT NULL, role TEXT NOT NULL, participant_id TEXT NOT NULL, "
    "record TEXT NOT NULL, endpoint TEXT NOT NULL, purpose TEXT NOT NULL, request_id TEXT)",
    "CREATE INDEX IF NOT EXISTS access_log_participant ON access_log (participant_id, id)",
    "CREATE TRIGGER IF NOT EXISTS access_log_no_update BEFORE UPDATE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS access_log_no_delete BEFORE DELETE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
    "CREATE TABLE IF NOT EXISTS disclosures (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "disclosed_at TEXT NOT NULL, recipient TEXT NOT NULL, participant_id TEXT NOT NULL, "
    "event_ids TEXT NOT NULL, channel TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS disclosures_recipient ON disclosures (recipient, id)",
    "CREATE INDEX IF NOT EXISTS disclosures_participant ON disclosures (participant_id, id)",
    "CREATE TRIGGER IF NOT EXISTS disclosures_no_update BEFORE UPDATE ON disclosures "
    "BEGIN SELECT RAISE(ABORT, 'the disclosure log is append-only'); END",
    "CREATE TABLE IF NOT EXISTS feed_checkpoints "
    "(name TEXT PRIMARY KEY, position INTEGER NOT NULL)",
    "INSERT INTO access_log (at, sub, role, participant_id, record, endpoint, purpose, request_id) "
    "VALUES (:at, :sub, 'admin', :pid, 'timeline', '/v1/participants/{participant_id}/timeline', "
    "'TREAT', 'abc123abc123abc123')",
    "INSERT INTO disclosures (disclosed_at, recipient, participant_id, event_ids, channel) "
    "VALUES (:at, :recipient, :pid, '[]', 'feed')",
    "INSERT INTO feed_checkpoints (name, position) VALUES (:checkpoint, 3)",
]
PREVIOUS_POSTGRES = [
    "CREATE TABLE IF NOT EXISTS continuum_access_log (id bigserial PRIMARY KEY, "
    "at timestamptz NOT NULL, sub text NOT NULL, role text NOT NULL, "
    "participant_id uuid NOT NULL, record text NOT NULL, endpoint text NOT NULL, "
    "purpose text NOT NULL, request_id text)",
    "CREATE OR REPLACE FUNCTION continuum_access_log_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$",
    "CREATE OR REPLACE TRIGGER continuum_access_log_append_only BEFORE UPDATE OR DELETE ON "
    "continuum_access_log FOR EACH ROW EXECUTE FUNCTION continuum_access_log_append_only()",
    "CREATE TABLE IF NOT EXISTS continuum_disclosures (id bigserial PRIMARY KEY, "
    "disclosed_at timestamptz NOT NULL, recipient text NOT NULL, participant_id uuid NOT NULL, "
    "event_ids jsonb NOT NULL, channel text NOT NULL)",
    "CREATE INDEX IF NOT EXISTS continuum_disclosures_recipient "
    "ON continuum_disclosures (recipient, id)",
    "CREATE OR REPLACE FUNCTION continuum_disclosures_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'the disclosure log is append-only'; END$$",
    "CREATE OR REPLACE TRIGGER continuum_disclosures_append_only BEFORE UPDATE OR DELETE ON "
    "continuum_disclosures FOR EACH ROW EXECUTE FUNCTION continuum_disclosures_append_only()",
    "CREATE TABLE IF NOT EXISTS continuum_feed_checkpoints "
    "(name text PRIMARY KEY, position bigint NOT NULL)",
    "INSERT INTO continuum_access_log (at, sub, role, participant_id, record, endpoint, "
    "purpose, request_id) VALUES (%(at)s, %(sub)s, 'admin', %(pid)s, 'timeline', "
    "'/v1/participants/{participant_id}/timeline', 'TREAT', 'abc123abc123abc123')",
    "INSERT INTO continuum_disclosures (disclosed_at, recipient, participant_id, event_ids, "
    "channel) VALUES (%(at)s, %(recipient)s, %(pid)s, '[]', 'feed')",
    "INSERT INTO continuum_feed_checkpoints (name, position) VALUES (%(checkpoint)s, 3)",
]


def previous_release_store(url: str, key: str | None) -> tuple[UUID, str]:
    """A store as the previous release left it; (participant id, the receipt's event id)."""
    application = ContinuumApplication(env=parse_store_url(url, cipher_key=key).settings)
    try:
        admitted = application.execute(
            Admit(program_id=PROGRAM, age_group="adult", level="2.1", pathway="primary",
                  admitted_at=AT),
            recorded_by=SUB, now=AT,
        )  # fmt: skip
        pid = admitted.participant_id
        receipt = application.execute(
            RecordSession(participant_id=pid, service="group", started_at=AT,
                          duration_minutes=60, attended=True, track="mk-track"),
            recorded_by=SUB, now=AT, idempotency=IdempotencyKey(KEY, "fingerprint-1"),
        )  # fmt: skip
        recorder = application.recorder
        views = (
            SQLiteViewStore(recorder.datastore)  # type: ignore[attr-defined]
            if url.startswith("sqlite")
            else PostgresViewStore(recorder.datastore)  # type: ignore[attr-defined]
        )
        views.create_tables()
        ViewRunner(recorder, application.mapper, views, ParticipantViewFold()).catch_up()
    finally:
        application.close()
    params = {"at": AT.isoformat(), "sub": SUB, "pid": str(pid), "recipient": RECIPIENT,
              "checkpoint": CHECKPOINT}  # fmt: skip
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            for statement in PREVIOUS_SQLITE:
                db.execute(statement, params if statement.startswith("INSERT") else {})
    else:
        with psycopg.connect(url) as db:
            for statement in PREVIOUS_POSTGRES:
                db.execute(statement.encode(), params if statement.startswith("INSERT") else None)
    return pid, str(receipt.event_id)


def raw_text(url: str) -> str:
    """Every table of the store, as text."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            return "\n".join(
                repr(row) for name in names for row in db.execute(f'SELECT * FROM "{name}"')
            )
    with psycopg.connect(url) as db:
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema='public'"
        names = [r[0] for r in db.execute(query)]
        return "\n".join(
            r[0] for name in names for r in db.execute(f'SELECT t::text FROM "{name}" t')
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield str(request.getfixturevalue(f"{request.param}_url"))


@pytest.mark.parametrize("keyed", [True, False], ids=["keyed", "plain"])
def test_a_previous_release_store_is_upgraded_and_reads_back(url: str, keyed: bool) -> None:
    """Given a store written by the previous release (side tables in plain text), when this
    release opens it, then it is at the current schema version, with a key no side table holds
    a marker any more, and the access log, disclosure log, checkpoint, receipt and views all
    read back as they were written."""
    key = create_cipher_key() if keyed else None
    pid, receipt = previous_release_store(url, key)
    assert all(m in raw_text(url) for m in (SUB, RECIPIENT, KEY, PROGRAM))  # plain before

    settings = Settings(database_url=url, cipher_key=key)
    with open_service(settings) as service:
        assert service.db is not None
        entries = service.access_log.entries()
        assert [(e.sub, e.participant_id, e.record) for e in entries] == [(SUB, pid, "timeline")]
        disclosed = service.disclosure_log.select(recipient=RECIPIENT)
        assert [(d.recipient, d.participant_id) for d in disclosed] == [(RECIPIENT, pid)]
        assert service.disclosure_log.checkpoint(CHECKPOINT) == 3
        stored = service.application.recorder.select_idempotent_response(KEY)  # type: ignore[attr-defined]
        assert stored is not None and stored[0] == "fingerprint-1"
        assert str(Recorded.from_json(stored[1]).event_id) == receipt
        row = service.views.store.get(str(pid))
        assert row is not None and row.program_id == PROGRAM
        assert service.views.store.select(program_ids=[PROGRAM])[0].participant_id == str(pid)

    text = raw_text(url)
    found = [m for m in (SUB, RECIPIENT, KEY, PROGRAM) if m in text]
    assert found == ([] if keyed else [SUB, RECIPIENT, KEY, PROGRAM])

    with open_service(settings) as service:  # opening again migrates nothing more
        db, tables = service.db  # type: ignore[misc]
        with db.transaction():
            versions = db.rows(f"SELECT version FROM {tables.schema_version} ORDER BY version")
        assert [v for (v,) in versions] == list(range(1, CURRENT_VERSION + 1))


def test_a_store_from_a_newer_release_is_refused(sqlite_url: str) -> None:
    """Given a store whose schema version is above this release's, opening it is refused with
    a one-line error, and nothing is written."""
    with open_service(Settings(database_url=sqlite_url)) as service:
        db, tables = service.db  # type: ignore[misc]
        with db.transaction():
            db.execute(
                f"INSERT INTO {tables.schema_version} VALUES (?, ?)", (CURRENT_VERSION + 1, "x")
            )
    with pytest.raises(SchemaTooNew, match="newer than this release"):
        open_service(Settings(database_url=sqlite_url))
