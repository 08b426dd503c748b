"""The access log: who read which participant's record, when, through which endpoint, and why.

HIPAA's audit controls (45 CFR 164.312(b)) ask for reads as well as writes. Entries live in the
events' own store (a table beside the events, a list in memory) and are only ever appended: no
code here updates or deletes them, and the database refuses to as well (triggers on SQLite and
PostgreSQL). An entry holds ids and fixed vocabularies only, never record content; with a
cipher key, everything but the id, the time and the participant's id is sealed as well
(api.storage.cells), since who read whose record, and why, is itself protected.

The table is laid out by the schema migrations (api.storage.schema).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.sql import SQL, Identifier

from api.storage.cells import PLAIN, Cells, Where, row_at
from projections.pg_reads import single_statement

SQLITE_TABLE = "access_log"
MAX_PAGE = 500
# Entries written together at most, when many reads arrive at once (see AccessLog.append).
MAX_GROUP = 256


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


@dataclass
class _Pending:
    entry: AccessEntry
    id: int | None = None
    error: Exception | None = None
    done: bool = False


class AccessLog(ABC):
    """Append-only storage of access entries.

    Group commit: concurrent reads each wait for their own entry to be committed, but entries
    that arrive while a write is in flight are written together by the next one (one
    transaction, one round trip), as the database does with its own commits. Under load that
    turns a commit per read into a commit per handful of reads.
    """

    def __init__(self, cells: Cells = PLAIN) -> None:
        self.cells = cells
        self._group = threading.Condition()
        self._queued: list[_Pending] = []
        self._writing = False

    @abstractmethod
    def _insert_many(self, entries: Sequence[AccessEntry]) -> list[int]:
        """Write `entries` in one transaction; their ids, in order."""

    @abstractmethod
    def entries(
        self, *, participant_id: UUID | None = None, after: int = 0, limit: int = 100
    ) -> list[AccessEntry]:
        """Entries with id greater than `after`, oldest first."""

    def append(self, entry: AccessEntry) -> AccessEntry:
        """Durably record `entry` (committed on return) or raise AccessLogUnavailable."""
        pending = _Pending(entry)
        group: list[_Pending] = []
        with self._group:
            self._queued.append(pending)
            while self._writing and not pending.done:
                self._group.wait()
            if not pending.done:  # nobody is writing: write what is queued, ours first
                self._writing = True
                rest = [p for p in self._queued if p is not pending]
                group, self._queued = [pending, *rest[: MAX_GROUP - 1]], rest[MAX_GROUP - 1 :]
        if group:
            self._write_group(group)
        if pending.error is not None:
            # The cause may be a driver message quoting values: the type is enough to log.
            raise AccessLogUnavailable(type(pending.error).__qualname__) from pending.error
        return replace(entry, id=pending.id)

    def append_all(self, entries: Sequence[AccessEntry]) -> list[AccessEntry]:
        """Durably record the entries of one read that showed several participants (a
        caseload, a feed page) in one transaction, or raise AccessLogUnavailable."""
        if not entries:
            return []
        try:
            ids = self._insert_many(entries)
        except Exception as error:
            raise AccessLogUnavailable(type(error).__qualname__) from error
        return [replace(e, id=i) for e, i in zip(entries, ids, strict=True)]

    def _write_group(self, group: list[_Pending]) -> None:
        try:
            ids = self._insert_many([p.entry for p in group])
        except Exception as error:
            for p in group:
                p.error = error
        else:
            for p, entry_id in zip(group, ids, strict=True):
                p.id = entry_id
        finally:
            with self._group:
                for p in group:
                    p.done = True
                self._writing = False
                self._group.notify_all()


# The columns of an entry's row, besides its id, in the order every insert gives them, with
# their PostgreSQL types (api.storage.schema creates them so; sealed values are text).
FIELD_TYPES = {
    "at": "timestamptz",
    "sub": "text",
    "role": "text",
    "participant_id": "uuid",
    "record": "text",
    "endpoint": "text",
    "purpose": "text",
    "request_id": "text",
}
FIELDS = tuple(FIELD_TYPES)
_COLUMNS = "id, " + ", ".join(FIELDS)
SEALED_FIELDS = ("sub", "role", "record", "endpoint", "purpose", "request_id")
TABLE = "access_log"  # the logical name sealed cells are bound to, on every backend


def seal_entry(cells: Cells, entry: AccessEntry) -> AccessEntry:
    """`entry` as stored: every field but the time and the participant's id sealed."""
    if not cells.encrypted:  # plain cells pass every field through: nothing to rebuild
        return entry
    return _each_sealed_field(entry, cells.seal)


def open_entry(cells: Cells, stored: AccessEntry) -> AccessEntry:
    if not cells.encrypted:
        return stored
    return _each_sealed_field(stored, cells.open)


def _each_sealed_field(entry: AccessEntry, apply: Callable[[str, Where], str]) -> AccessEntry:
    row = row_at(entry.participant_id, entry.at)
    changed: dict[str, Any] = {
        name: apply(value, Where(TABLE, name, row))
        for name in SEALED_FIELDS
        if (value := getattr(entry, name)) is not None
    }
    return replace(entry, **changed)


def stored_values(cells: Cells, entry: AccessEntry) -> tuple[Any, ...]:
    """The entry's FIELDS as its row stores them (sealed where the cells seal)."""
    entry = seal_entry(cells, entry)
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


def _entry(cells: Cells, row: Any) -> AccessEntry:
    entry_id, at, sub, role, participant_id, record, endpoint, purpose, request_id = row
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    stored = AccessEntry(
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
    return open_entry(cells, stored)


class MemoryAccessLog(AccessLog):
    def __init__(self) -> None:
        super().__init__()
        self._entries: list[AccessEntry] = []
        self._lock = threading.Lock()

    def _insert_many(self, entries: Sequence[AccessEntry]) -> list[int]:
        with self._lock:
            first = len(self._entries) + 1
            self._entries.extend(replace(e, id=first + n) for n, e in enumerate(entries))
            return list(range(first, first + len(entries)))

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
    def __init__(self, datastore: SQLiteDatastore, cells: Cells = PLAIN) -> None:
        super().__init__(cells)
        self.datastore = datastore

    def _insert_many(self, entries: Sequence[AccessEntry]) -> list[int]:
        insert = f"INSERT INTO {SQLITE_TABLE} ({', '.join(FIELDS)}) VALUES (?,?,?,?,?,?,?,?)"
        ids = []
        with self.datastore.transaction(commit=True) as c:
            for entry in entries:
                values = stored_values(self.cells, entry)
                c.execute(insert, (values[0].isoformat(), *values[1:]))
                ids.append(int(c.lastrowid))
        return ids

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
            return [_entry(self.cells, row) for row in c.fetchall()]


class PostgresAccessLog(AccessLog):
    def __init__(self, datastore: PostgresDatastore, table_name: str, cells: Cells = PLAIN) -> None:
        super().__init__(cells)
        self.datastore = datastore
        self.table_name = table_name
        self.table = Identifier(datastore.schema), Identifier(table_name)
        # Column arrays, so a group of any size is one statement (ids follow array order).
        # Rendered once: psycopg renders a composed statement again on every execute.
        arrays = ", ".join(f"%s::{kind}[]" for kind in FIELD_TYPES.values())
        self.insert_statement = (
            SQL("INSERT INTO {}.{} ({}) SELECT * FROM unnest(" + arrays + ") RETURNING id")
            .format(*self.table, SQL(", ").join(Identifier(f) for f in FIELDS))
            .as_bytes(None)
        )

    def _insert_many(self, entries: Sequence[AccessEntry]) -> list[int]:
        columns = [
            list(column)
            for column in zip(*(stored_values(self.cells, e) for e in entries), strict=True)
        ]
        # One statement on an autocommit connection is its own transaction: one round trip
        # instead of BEGIN, INSERT, COMMIT.
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.insert_statement, columns, prepare=True)
            return sorted(int(row["id"]) for row in curs.fetchall())

    def entries(
        self, *, participant_id: UUID | None = None, after: int = 0, limit: int = 100
    ) -> list[AccessEntry]:
        where = SQL("id > %s")
        params: list[Any] = [after]
        if participant_id is not None:
            where = SQL("id > %s AND participant_id = %s")
            params.append(participant_id)
        with single_statement(self.datastore) as curs:
            curs.execute(
                SQL("SELECT {} FROM {}.{} WHERE {} ORDER BY id LIMIT %s").format(
                    SQL(_COLUMNS), *self.table, where
                ),
                (*params, limit),
            )
            return [_entry(self.cells, tuple(row.values())) for row in curs.fetchall()]
