"""One read statement on PostgreSQL, in one round trip.

The library's pool hands out connections in autocommit mode, and its
`datastore.transaction(commit=False)` wraps a block in BEGIN ... ROLLBACK: psycopg sends each
of those as a command of its own, so a block holding one SELECT costs three round trips to
the server instead of one. A single statement on an autocommit connection is already its own
transaction and reads one snapshot (PostgreSQL docs, "Transaction Isolation": under READ
COMMITTED each statement sees a snapshot taken as it starts), so a read of one statement loses
nothing by going without the block. Reads of several statements that must agree keep
`transaction(commit=False)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow


@contextmanager
def single_statement(datastore: PostgresDatastore) -> Iterator[Cursor[DictRow]]:
    """A cursor for one read statement, on a pooled autocommit connection: no BEGIN, no
    ROLLBACK. The library's error translation (get_connection) applies as in a transaction."""
    with datastore.get_connection() as conn, conn.cursor() as curs:
        yield curs
