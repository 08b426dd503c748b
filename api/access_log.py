"""The access log: who read which participant's record, when, through which endpoint, and why.

HIPAA's audit controls (45 CFR 164.312(b)) ask for reads as well as writes. Entries live in the
events' own store (a table beside the events, a list in memory) and are only ever appended: no
code here updates or deletes them, and the database refuses to as well (triggers on SQLite and
PostgreSQL). An entry holds ids and fixed vocabularies only, never record content.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from psycopg.sql import SQL, Identifier

from domain.application import ContinuumApplication

SQLITE_TABLE = "access_log"
MAX_PAGE = 500


@dataclass(frozen=True)
class AccessEntry:
    """One read of one participant's record. `id` is assigned when it is appended."""

    at: datetime
    sub: str
    role: str
    participant_id: UUID
    record: str  # what was read: state, timeline, compliance, history...
    endpoint: str  # the route template, e.g. /v1/participants/{participant_id}/timeline
    purpose: str  # HL7 PurposeOfUse code
    request_id: str | None
    id: int | None = None


class AccessLogUnavailable(Exception):
    """The entry could not be written: the read it records must not be served."""


class AccessLog(ABC):
    """Append-only storage of access entries."""

    @abstractmethod
    def create_table(self) -> None: ...

    @abstractmethod
    def _insert(self, entry: AccessEntry) -> int: ...

    @abstractmethod
    def entries(
        self, *, participant_id: UUID | None = None, after: int = 0, limit: int = 100
    ) -> list[AccessEntry]:
        """Entries with id greater than `after`, oldest first."""

    def append(self, entry: AccessEntry) -> AccessEntry:
        """Durably record `entry` (committed on return) or raise AccessLogUnavailable."""
        try:
            return replace(entry, id=self._insert(entry))
        except Exception as error:
            # The cause may be a driver message quoting values: the type is enough to log.
            raise AccessLogUnavailable(type(error).__qualname__) from error


_FIELDS = ("at", "sub", "role", "participant_id", "record", "endpoint", "purpose", "request_id")
_COLUMNS = "id, " + ", ".join(_FIELDS)


def _values(entry: AccessEntry) -> tuple[Any, ...]:
    return (
        entry.at,
        entry.sub,
        entry.role,
        str(entry.participant_id),
        entry.record,
        entry.endpoint,
        entry.purpose,
        entry.request_id,
    )


def _entry(row: Any) -> AccessEntry:
    entry_id, at, sub, role, participant_id, record, endpoint, purpose, request_id = row
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return AccessEntry(
        id=int(entry_id),
        at=at,
        sub=sub,
        role=role,
        participant_id=UUID(str(participant_id)),
        record=record,
        endpoint=endpoint,
        purpose=purpose,
        request_id=request_id,
    )


class MemoryAccessLog(AccessLog):
    def __init__(self) -> None:
        self._entries: list[AccessEntry] = []
        self._lock = threading.Lock()

    def create_table(self) -> None:
        pass

    def _insert(self, entry: AccessEntry) -> int:
        with self._lock:
            entry_id = len(self._entries) + 1
            self._entries.append(replace(entry, id=entry_id))
            return entry_id

    def entries(
        self, *, participant_id: UUID | None = None, after: int = 0, limit: int = 100
    ) -> list[AccessEntry]:
        with self._lock:
            found = [
                e
                for e in self._entries[after:]
                if participant_id is None or e.participant_id == participant_id
            ]
        return found[:limit]


class SQLiteAccessLog(AccessLog):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def create_table(self) -> None:
        t = SQLITE_TABLE
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "at TEXT NOT NULL, sub TEXT NOT NULL, role TEXT NOT NULL, "
                "participant_id TEXT NOT NULL, record TEXT NOT NULL, endpoint TEXT NOT NULL, "
                "purpose TEXT NOT NULL, request_id TEXT)"
            )
            c.execute(f"CREATE INDEX IF NOT EXISTS {t}_participant ON {t} (participant_id, id)")
            for operation in ("UPDATE", "DELETE"):
                c.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{operation.lower()} "
                    f"BEFORE {operation} ON {t} "
                    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"
                )

    def _insert(self, entry: AccessEntry) -> int:
        values = _values(entry)
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {SQLITE_TABLE} ({', '.join(_FIELDS)}) VALUES (?,?,?,?,?,?,?,?)",
                (values[0].isoformat(), *values[1:]),
            )
            return int(c.lastrowid)

    def entries(
        self, *, participant_id: UUID | None = None, after: int = 0, limit: int = 100
    ) -> list[AccessEntry]:
        where, params = "id > ?", [after]
        if participant_id is not None:
            where += " AND participant_id = ?"
            params.append(str(participant_id))  # type: ignore[arg-type]  # mixed params
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {_COLUMNS} FROM {SQLITE_TABLE} WHERE {where} ORDER BY id LIMIT ?",
                (*params, limit),
            )
            return [_entry(row) for row in c.fetchall()]


class PostgresAccessLog(AccessLog):
    def __init__(self, datastore: PostgresDatastore, table_name: str) -> None:
        self.datastore = datastore
        self.table_name = table_name
        self.table = Identifier(datastore.schema), Identifier(table_name)
        self.function = Identifier(datastore.schema), Identifier(f"{table_name}_append_only")

    def create_table(self) -> None:
        trigger = Identifier(f"{self.table_name}_append_only")
        truncate = Identifier(f"{self.table_name}_no_truncate")
        statements = [
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} (id bigserial PRIMARY KEY, "
                "at timestamptz NOT NULL, sub text NOT NULL, role text NOT NULL, "
                "participant_id uuid NOT NULL, record text NOT NULL, endpoint text NOT NULL, "
                "purpose text NOT NULL, request_id text)"
            ).format(*self.table),
            SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} (participant_id, id)").format(
                Identifier(f"{self.table_name}_participant_idx"), *self.table
            ),
            # Append-only in the database too: a script or a stray session cannot rewrite it.
            SQL(
                "CREATE OR REPLACE FUNCTION {}.{}() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$"
            ).format(*self.function),
            SQL(
                "CREATE OR REPLACE TRIGGER {} BEFORE UPDATE OR DELETE ON {}.{} "
                "FOR EACH ROW EXECUTE FUNCTION {}.{}()"
            ).format(trigger, *self.table, *self.function),
            SQL(
                "CREATE OR REPLACE TRIGGER {} BEFORE TRUNCATE ON {}.{} "
                "FOR EACH STATEMENT EXECUTE FUNCTION {}.{}()"
            ).format(truncate, *self.table, *self.function),
        ]
        with self.datastore.transaction(commit=True) as curs:
            # Apps starting together on one database take turns creating the table.
            curs.execute(SQL("SELECT pg_advisory_xact_lock(hashtext({}))").format(self.table_name))
            for statement in statements:
                curs.execute(statement)

    def _insert(self, entry: AccessEntry) -> int:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("INSERT INTO {}.{} ({}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id").format(
                    *self.table, SQL(", ").join(Identifier(f) for f in _FIELDS)
                ),
                _values(entry),
            )
            row = curs.fetchone()
        assert row is not None  # RETURNING always yields the row
        return int(row["id"])

    def entries(
        self, *, participant_id: UUID | None = None, after: int = 0, limit: int = 100
    ) -> list[AccessEntry]:
        where = SQL("id > %s")
        params: list[Any] = [after]
        if participant_id is not None:
            where = SQL("id > %s AND participant_id = %s")
            params.append(participant_id)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT {} FROM {}.{} WHERE {} ORDER BY id LIMIT %s").format(
                    SQL(_COLUMNS), *self.table, where
                ),
                (*params, limit),
            )
            return [_entry(tuple(row.values())) for row in curs.fetchall()]


def open_access_log(application: ContinuumApplication) -> AccessLog:
    """The access log in the same store as the application's events (created if missing)."""
    recorder = application.recorder
    access_log: AccessLog
    if isinstance(recorder, PostgresApplicationRecorder):
        prefix = recorder.events_table_name.removesuffix("_events")
        access_log = PostgresAccessLog(recorder.datastore, f"{prefix}_access_log")
    elif isinstance(recorder, SQLiteApplicationRecorder):
        access_log = SQLiteAccessLog(recorder.datastore)
    else:
        access_log = MemoryAccessLog()
    access_log.create_table()
    return access_log
