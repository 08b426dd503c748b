"""Application recorders that keep Idempotency-Key receipts in the events' own transaction.

A retried write must find its first receipt even after a restart, and a receipt must never
exist without its events (or the reverse): so the row is written by the same transaction
that appends the events, on each backend.

With a cipher key a receipt is stored sealed (api.storage.cells): the caller's key as its
equality tag, the request fingerprint and the receipt sealed and bound to that tag. The
composition root hands each recorder its `cells` when it opens the store; the table itself is
declared in api.storage.schema.
"""

from __future__ import annotations

import json
import select
import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from eventsourcing.utils import retry
from psycopg import Connection, Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool

from api.storage.cells import PLAIN, Cells, Where
from api.storage.partition_select import PostgresPartitionSelect
from api.storage.privileges import postgres_guards, sqlite_guards
from api.storage.schema import idempotency_ddl
from projections.pg_reads import single_statement

IdempotencyRow = tuple[str, str, str]  # key, request fingerprint, receipt JSON
Receipt = tuple[str, str, int | None]  # fingerprint, receipt JSON, position
RECEIPTS = "idempotency"  # the logical name sealed cells are bound to, on every backend


class SealsReceipts:
    """What both durable recorders share: receipts sealed on the way in, opened on the way out.

    The caller's key is stored as its tag, and sealed inside the fingerprint's cell as well: a
    key rotation cannot invert a tag, so it reads the key from there to tag it anew.
    """

    cells: Cells = PLAIN  # set by the composition root for a keyed store

    def sealed_receipt(self, row: IdempotencyRow) -> IdempotencyRow:
        return seal_receipt(self.cells, row)

    def opened_receipt(
        self, tag: str, fingerprint: str, response: str, position: int | None
    ) -> Receipt:
        if not self.cells.encrypted:
            return fingerprint, response, position
        _, fingerprint = json.loads(
            self.cells.open(fingerprint, Where(RECEIPTS, "fingerprint", tag))
        )
        return fingerprint, self.cells.open(response, Where(RECEIPTS, "response", tag)), position


def seal_receipt(cells: Cells, row: IdempotencyRow) -> IdempotencyRow:
    """A receipt row as stored under `cells` (unchanged without a key)."""
    if not cells.encrypted:
        return row
    key, fingerprint, response = row
    tag = cells.tag(key, "key")
    return (
        tag,
        cells.seal(json.dumps([key, fingerprint]), Where(RECEIPTS, "fingerprint", tag)),
        cells.seal(response, Where(RECEIPTS, "response", tag)),
    )


class SQLiteIdempotentRecorder(SealsReceipts, SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        self.idempotency_table_name = "idempotency_keys"
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        # Created with the events (the receipts are written in their transaction, and an
        # application opened on its own writes them too), from the schema's one declaration.
        return [
            *super().construct_create_table_statements(),
            idempotency_ddl("sqlite", self.idempotency_table_name),
            *sqlite_guards(self.events_table_name, "the event log"),
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        row: IdempotencyRow | None = kwargs.get("idempotency")
        if row is not None:
            c.execute(
                f"INSERT INTO {self.idempotency_table_name} VALUES (?,?,?,?)",
                (*self.sealed_receipt(row), positions[-1] if positions else None),
            )
        return positions

    def select_idempotent_response(self, key: str) -> Receipt | None:
        tag = self.cells.tag(key, "key")
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT fingerprint, response, position FROM {self.idempotency_table_name} "
                "WHERE key=?",
                (tag,),
            )
            found = c.fetchone()
        return None if found is None else self.opened_receipt(tag, *found)


# The append functions, each one statement in its own transaction: take the events table's
# lock, notify listeners, insert, and write the receipt (if any) with the last position.
_APPEND_PROLOGUE = (
    "SET LOCAL lock_timeout = '{lock_timeout}s'; "
    "LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE; "
    "NOTIFY {channel}; "
)
_APPEND_RECEIPT = (
    "IF receipt_key IS NOT NULL THEN "
    "INSERT INTO {receipts} VALUES (receipt_key, receipt_fingerprint, receipt_response, {last}); "
    "END IF; "
)
_INSERT_COLUMNS = "INSERT INTO {schema}.{events} (originator_id, originator_version, topic, state) "
_RECEIPT_PARAMS = "receipt_key text, receipt_fingerprint text, receipt_response text"
# Appends run as the functions' owner: the EXCLUSIVE lock needs privileges (UPDATE, DELETE or
# TRUNCATE) the runtime role must not hold (api.storage.privileges). The search path is fixed,
# as PostgreSQL advises for SECURITY DEFINER functions ("Writing SECURITY DEFINER Functions
# Safely"), and every name in the bodies is schema-qualified.
_AS_OWNER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
# Any number of events, as one array per column: psycopg dumps the library's composite type
# row by row in Python, which cost more client CPU than the rest of a save.
_APPEND_EVENTS_FUNCTION = (
    "CREATE OR REPLACE FUNCTION {function}(new_originator_ids {id_type}[], "
    "new_originator_versions bigint[], new_topics text[], new_states bytea[], "
    + _RECEIPT_PARAMS
    + ") RETURNS SETOF bigint LANGUAGE plpgsql "
    + _AS_OWNER
    + " AS $BODY$ "
    "DECLARE positions bigint[]; "
    "BEGIN "
    + _APPEND_PROLOGUE
    + "WITH inserted AS ("
    + _INSERT_COLUMNS
    + "SELECT * FROM unnest(new_originator_ids, new_originator_versions, new_topics, "
    "new_states) RETURNING notification_id) "
    "SELECT array_agg(notification_id ORDER BY notification_id) INTO positions "
    "FROM inserted; "
    + _APPEND_RECEIPT.replace("{last}", "positions[array_upper(positions, 1)]")
    + "RETURN QUERY SELECT unnest(positions); "
    "END; $BODY$"
)
# One event (most commands): a scalar result keeps the time under the lock short.
_APPEND_EVENT_FUNCTION = (
    "CREATE OR REPLACE FUNCTION {function}(new_originator_id {id_type}, "
    "new_originator_version bigint, new_topic text, new_state bytea, "
    + _RECEIPT_PARAMS
    + ") RETURNS bigint LANGUAGE plpgsql "
    + _AS_OWNER
    + " AS $BODY$ "
    "DECLARE position bigint; "
    "BEGIN "
    + _APPEND_PROLOGUE
    + _INSERT_COLUMNS
    + "VALUES (new_originator_id, new_originator_version, new_topic, new_state) "
    "RETURNING notification_id INTO position; "
    + _APPEND_RECEIPT.replace("{last}", "position")
    + "RETURN position; "
    "END; $BODY$"
)


class PostgresIdempotentRecorder(
    SealsReceipts, PostgresPartitionSelect, PostgresApplicationRecorder
):
    """Appends events (and the receipt, when there is one) in one call of a database function.

    One round trip per save: the function takes the events table's lock (so positions follow
    commit order and a tailing view never skips a row), notifies listeners, inserts the events
    and, given an Idempotency-Key receipt, inserts it with the last event's position, all in the
    statement's own transaction. The library's pipelined path took a second round trip to
    commit, and its own function (POSTGRES_ENABLE_DB_FUNCTIONS) neither locks the table nor
    writes receipts, so neither is used.
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.pre_ping:
            # The pool keeps its check privately; it is only set at construction.
            datastore.pool._check = ping_if_dropped
        prefix = events_table_name.removesuffix("_events")
        self.idempotency_table_name = prefix + "_idempotency"
        self.append_events_function_name = prefix + "_append_events"
        self.append_event_function_name = prefix + "_append_event"
        self.snapshots_table_name = prefix + "_snapshots"
        self.check_identifier_length(self.idempotency_table_name)
        self.check_identifier_length(self.append_events_function_name)
        self.check_identifier_length(self.append_event_function_name)
        schema = Identifier(self.datastore.schema)
        table = schema, Identifier(self.idempotency_table_name)
        self.sql_create_statements.append(SQL(idempotency_ddl("postgres", "{}.{}")).format(*table))
        events_function = SQL("{}.{}").format(schema, Identifier(self.append_events_function_name))
        event_function = SQL("{}.{}").format(schema, Identifier(self.append_event_function_name))
        names = {
            "schema": schema,
            "lock_timeout": self.datastore.lock_timeout,
            "events": Identifier(self.events_table_name),
            "channel": Identifier(self.channel_name),
            "receipts": SQL("{}.{}").format(*table),
            "id_type": Identifier(self.datastore.originator_id_type),
        }
        self.sql_create_statements += [
            # Earlier releases' append functions took other arguments; they are replaced.
            *(
                SQL("DROP FUNCTION IF EXISTS {}.{}").format(schema, Identifier(prefix + old))
                for old in ("_append", "_append_one")
            ),
            SQL(_APPEND_EVENTS_FUNCTION).format(function=events_function, **names),
            SQL(_APPEND_EVENT_FUNCTION).format(function=event_function, **names),
        ]
        # Rendered once: psycopg renders a composed statement again on every execute.
        self.append_events_statement = (
            SQL("SELECT position FROM {}(%s, %s, %s, %b, %s, %s, %s) AS position")
            .format(events_function)
            .as_bytes(None)
        )
        self.append_event_statement = (
            SQL("SELECT {}(%s, %s, %s, %b, %s, %s, %s) AS position")
            .format(event_function)
            .as_bytes(None)
        )
        self.select_idempotency_statement = SQL(
            "SELECT fingerprint, response, position FROM {}.{} WHERE key=%s"
        ).format(*table)

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        # Apps starting together take turns: concurrent CREATE OR REPLACE FUNCTION statements
        # fail with "tuple concurrently updated", concurrent CREATE TABLE IF NOT EXISTS with a
        # duplicate row type. The snapshots table is created here too, under the same lock,
        # since the library creates it right after this one in a transaction of its own.
        curs.execute(
            SQL("SELECT pg_advisory_xact_lock(hashtext({}))").format(self.events_table_name)
        )
        super()._create_table(curs)
        snapshots = PostgresAggregateRecorder(
            self.datastore, events_table_name=self.snapshots_table_name
        )
        snapshots._create_table(curs)
        for guard in postgres_guards(self.datastore.schema, self.events_table_name):
            curs.execute(guard)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        row: IdempotencyRow | None = kwargs.get("idempotency")
        if not stored_events:
            return []
        receipt = self.sealed_receipt(row) if row is not None else (None, None, None)
        if len(stored_events) == 1:
            one = stored_events[0]
            statement = self.append_event_statement
            params: tuple[Any, ...] = (
                one.originator_id, one.originator_version, one.topic, one.state, *receipt
            )  # fmt: skip
        else:
            statement = self.append_events_statement
            params = (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
                *receipt,
            )
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, params, prepare=True)
            return [position for (position,) in curs.fetchall()]

    def select_idempotent_response(self, key: str) -> Receipt | None:
        tag = self.cells.tag(key, "key")
        with single_statement(self.datastore) as curs:
            curs.execute(self.select_idempotency_statement, (tag,))
            found = curs.fetchone()
        if found is None:
            return None
        return self.opened_receipt(tag, found["fingerprint"], found["response"], found["position"])


def ping_if_dropped(conn: Connection[Any]) -> None:
    """The pool's check: ping only a connection the server has spoken on while it sat idle.

    A terminated backend or a restarted server leaves its goodbye (or EOF) on the socket; a
    healthy idle pooled connection has nothing to read (pooled connections never LISTEN). So
    this finds dropped connections as a ping before every use would, without the round trip
    each use. A connection lost silently still fails on use, and the recorders retry that.
    """
    if conn.closed:
        ConnectionPool.check_connection(conn)
        return
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)


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
