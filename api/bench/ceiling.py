"""The hardware's ceilings, measured with the drivers alone on event-shaped rows.

- one INSERT + COMMIT per event, by 1 and by 4 writer processes;
- executemany, 100 events per transaction, 1 writer;
- select_notifications(500) + decode of the application's log (the read ceiling);
- PostgreSQL only: the application's own one-event append function called by the driver
  alone, by 1 and by 4 writers. It commits in position order under the events table lock, so
  it shows what ordered commits leave of the raw ceiling before any Python work is added.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import psycopg

from api.bench.command_path import event_rows
from api.bench.common import Timed, in_processes, split, timed
from api.bench.rebuild import read_and_decode
from api.bootstrap import open_url
from api.storage.recorders import PostgresIdempotentRecorder

PG_TABLE = (
    "CREATE TABLE IF NOT EXISTS scratch_events (originator_id uuid NOT NULL, "
    "originator_version bigint NOT NULL, topic text, state bytea, "
    "notification_id bigserial UNIQUE, PRIMARY KEY (originator_id, originator_version))"
)
SQLITE_TABLE = (
    "CREATE TABLE IF NOT EXISTS scratch_events (originator_id TEXT, "
    "originator_version INTEGER, topic TEXT, state BLOB, "
    "notification_id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "UNIQUE (originator_id, originator_version))"
)
PG_INSERT = (
    "INSERT INTO scratch_events (originator_id, originator_version, topic, state) "
    "VALUES (%s, %s, %s, %s)"
)
SQLITE_INSERT = PG_INSERT.replace("%s", "?")
EXECUTEMANY_BATCH = 100


def create_table(
    kind: str, raw_url: str, pg_table: str = PG_TABLE, sqlite_table: str = SQLITE_TABLE
) -> None:
    if kind == "postgres":
        with psycopg.connect(raw_url, autocommit=True) as conn:
            conn.execute(pg_table)
    else:
        db = sqlite3.connect(raw_url, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(sqlite_table)
        db.close()


def insert_commit(kind: str, raw_url: str, count: int) -> Callable[[], int]:
    """Set up one writer: INSERT + COMMIT per row (the library's SQLite path uses BEGIN)."""
    return _batched_writer(kind, raw_url, count, batch=1)


def executemany(kind: str, raw_url: str, count: int) -> Callable[[], int]:
    """Set up one writer: executemany, EXECUTEMANY_BATCH rows per transaction."""
    return _batched_writer(kind, raw_url, count, batch=EXECUTEMANY_BATCH)


def _batched_writer(kind: str, raw_url: str, count: int, batch: int) -> Callable[[], int]:
    """One writer committing `batch` rows per transaction: a plain execute for one row (what
    a single append does), executemany for more."""
    rows = event_rows(count)
    if kind == "postgres":
        batches = [rows[n : n + batch] for n in range(0, len(rows), batch)]
        conn = psycopg.connect(raw_url)

        def run_postgres() -> int:
            with conn.cursor() as cursor:
                for chunk in batches:
                    if batch == 1:
                        cursor.execute(PG_INSERT, chunk[0])
                    else:
                        cursor.executemany(PG_INSERT, chunk)
                    conn.commit()
            conn.close()
            return len(rows)

        return run_postgres
    db = sqlite3.connect(raw_url, isolation_level=None, timeout=30)
    db.execute("PRAGMA busy_timeout=30000")
    text_rows = [(str(o), v, t, s) for o, v, t, s in rows]
    text_batches = [text_rows[n : n + batch] for n in range(0, len(text_rows), batch)]

    def run_sqlite() -> int:
        for chunk in text_batches:
            db.execute("BEGIN IMMEDIATE")
            if batch == 1:
                db.execute(SQLITE_INSERT, chunk[0])
            else:
                db.executemany(SQLITE_INSERT, chunk)
            db.execute("COMMIT")
        db.close()
        return len(rows)

    return run_sqlite


def raw_insert_commit(kind: str, raw_url: str, rows: int, writers: int) -> Timed:
    create_table(kind, raw_url)
    if writers == 1:
        return timed(insert_commit, kind, raw_url, rows)
    return in_processes(insert_commit, [(kind, raw_url, n) for n in split(rows, writers)])


def raw_executemany(kind: str, raw_url: str, rows: int) -> Timed:
    create_table(kind, raw_url)
    return timed(executemany, kind, raw_url, rows)


def select_and_decode(app_url: str) -> Timed:
    """Every notification of the application's log read 500 at a time and decoded."""

    def setup() -> Callable[[], int]:
        app = open_url(app_url, pool_size=1).application

        def run() -> int:
            try:
                return read_and_decode(app)
            finally:
                app.close()

        return run

    return timed(setup)


def append_function(append_statement: bytes, raw_url: str, count: int) -> Callable[[], int]:
    """Set up one writer: the append function per event, autocommit (its own transaction)."""
    rows = [(*row, None, None, None) for row in event_rows(count)]
    conn = psycopg.connect(raw_url, autocommit=True)

    def run() -> int:
        for row in rows:
            conn.execute(append_statement, row, prepare=True).fetchall()
        conn.close()
        return len(rows)

    return run


def append_event_statement(raw_url: str) -> bytes:
    """PostgreSQL: create the application's tables and functions; its one-event append."""
    app = open_url(raw_url, pool_size=1).application
    try:
        recorder = app.recorder
        assert isinstance(recorder, PostgresIdempotentRecorder)
        return recorder.append_event_statement
    finally:
        app.close()


def ordered_append(statement: bytes, raw_url: str, rows: int, writers: int) -> Timed:
    """PostgreSQL: the application's one-event append function, by the driver alone."""
    if writers == 1:
        return timed(append_function, statement, raw_url, rows)
    return in_processes(append_function, [(statement, raw_url, n) for n in split(rows, writers)])
