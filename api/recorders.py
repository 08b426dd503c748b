"""Application recorders that keep Idempotency-Key receipts in the events' own transaction.

A retried write must find its first receipt even after a restart, and a receipt must never
exist without its events (or the reverse): so the row is written by the same transaction
that appends the events, on each backend.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

IdempotencyRow = tuple[str, str, str]  # key, request fingerprint, receipt JSON


class SQLiteIdempotentRecorder(SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        self.idempotency_table_name = "idempotency_keys"
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.idempotency_table_name} ("
            "key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
            "response TEXT NOT NULL, position INTEGER)",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        row: IdempotencyRow | None = kwargs.get("idempotency")
        if row is not None:
            c.execute(
                f"INSERT INTO {self.idempotency_table_name} VALUES (?,?,?,?)",
                (*row, positions[-1] if positions else None),
            )
        return positions

    def select_idempotent_response(self, key: str) -> tuple[str, str, int | None] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT fingerprint, response, position FROM {self.idempotency_table_name} "
                "WHERE key=?",
                (key,),
            )
            found = c.fetchone()
        return None if found is None else (found[0], found[1], found[2])


class PostgresIdempotentRecorder(PostgresApplicationRecorder):
    """Writes the receipt in the pipelined insert transaction.

    The library's database-function insert path (POSTGRES_ENABLE_DB_FUNCTIONS) bypasses these
    hooks, so `api.store` leaves that option off.
    """

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ):
        super().__init__(datastore, events_table_name=events_table_name)
        self.idempotency_table_name = events_table_name.removesuffix("_events") + "_idempotency"
        self.check_identifier_length(self.idempotency_table_name)
        table = Identifier(self.datastore.schema), Identifier(self.idempotency_table_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} (key text PRIMARY KEY, "
                "fingerprint text NOT NULL, response text NOT NULL, position bigint)"
            ).format(*table)
        )
        self.insert_idempotency_statement = SQL("INSERT INTO {}.{} VALUES (%s,%s,%s,%s)").format(
            *table
        )
        self.select_idempotency_statement = SQL(
            "SELECT fingerprint, response, position FROM {}.{} WHERE key=%s"
        ).format(*table)

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        row: IdempotencyRow | None = kwargs.get("idempotency")
        if row is not None:
            curs.execute(
                self.insert_idempotency_statement,
                (*row, positions[-1] if positions else None),
            )
        return positions

    def select_idempotent_response(self, key: str) -> tuple[str, str, int | None] | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.select_idempotency_statement, (key,))
            found = curs.fetchone()
        if found is None:
            return None
        return found["fingerprint"], found["response"], found["position"]


class MemoryIdempotentRecorder(POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._receipts: dict[str, tuple[str, str, int | None]] = {}
        self._receipts_lock = threading.Lock()

    def _insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        row: IdempotencyRow | None = kwargs.get("idempotency")
        with self._database_lock, self._receipts_lock:
            if row is not None and row[0] in self._receipts:
                msg = f"idempotency key already recorded: {row[0]}"
                raise IntegrityError(msg)
            positions = super()._insert_events(stored_events, **kwargs)
            if row is not None:
                key, fingerprint, response = row
                self._receipts[key] = (fingerprint, response, positions[-1] if positions else None)
        return positions

    def select_idempotent_response(self, key: str) -> tuple[str, str, int | None] | None:
        with self._receipts_lock:
            return self._receipts.get(key)


class MemoryFactory(POPOFactory):
    """The in-memory backend, with receipts kept beside the events like the durable ones."""

    def application_recorder(self) -> ApplicationRecorder:
        return MemoryIdempotentRecorder()
