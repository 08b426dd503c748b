"""PostgreSQL selects one partition's rows of the log itself (projections.partitions).

Each worker of `continuum rebuild --workers N` (or `continuum project --partition i/N`) then
receives only its share of the log instead of all of it, so N workers transfer it once in all
rather than N times; the database computes the partition from the id's bytes as
`partition_of` does in Python.

A batch is a window of positions, not "the next `limit` rows of the partition": the planner
cannot know that the partition test keeps 1 row in `count` (it assumes 0.5% for an equality on
an expression), so for `ORDER BY notification_id LIMIT n` over the rest of the log it chose to
scan and sort all of it, spilling to disk: measured on 1,028,312 events, 0.6-1.1 s a batch and
56 s of server CPU in a two-worker rebuild against 6 s for one worker. Over a window of
`limit * count` positions it walks the position index in order (15-20 ms a batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from eventsourcing.persistence import InterfaceError, Notification, OperationalError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from projections.partitions import partition_sql

# Beyond any position the log will reach (positions are bigint).
NO_STOP = 2**62


class PostgresPartitionSelect:
    """Mixed into the PostgreSQL application recorder (projections.partitions.PartitionReader)."""

    datastore: PostgresDatastore
    events_table_name: str

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_partition(
        self, after: int, limit: int, stop: int | None, index: int, count: int
    ) -> tuple[Sequence[Notification], int | None]:
        head_statement, rows_statement = _statements(
            self.datastore.schema, self.events_table_name, count
        )
        stop = NO_STOP if stop is None else stop
        # Tuples, not the pool's dict rows: a dict per row was 5% of a rebuild's py-spy samples.
        # Binary results: the states arrive as raw bytes instead of hex text that both sides
        # encode and decode; reading all 1,028,312 events in windows of 10,000 took 3.0-3.3 s
        # of client CPU (6.9-7.2 s wall) against 5.2-5.7 s (9.7-10.6 s) in text.
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            # The head first: positions commit in order (the append takes the table's lock),
            # so every row up to it is visible to the select that follows.
            curs.execute(head_statement, (stop,), prepare=True)
            (head,) = curs.fetchone() or (None,)
            if head is None or head <= after:
                return [], None
            # About `limit` rows of this partition: every position up to `reached` is covered.
            reached = min(head, after + limit * count)
            curs.execute(rows_statement, (after, reached, index), prepare=True)
            notifications = [
                Notification(
                    id=notification_id,
                    originator_id=originator_id,
                    originator_version=originator_version,
                    topic=topic,
                    state=bytes(state),
                )
                for notification_id, originator_id, originator_version, topic, state in (
                    curs.fetchall()
                )
            ]
        return notifications, reached


@cache  # rendered once per table and count: psycopg would render a composed statement per call
def _statements(schema: str, table: str, count: int) -> tuple[bytes, bytes]:
    events = SQL("{}.{}").format(Identifier(schema), Identifier(table))
    head = SQL("SELECT max(notification_id) AS head FROM {} WHERE notification_id <= %s")
    partition = SQL(partition_sql(count, "uuid_send(originator_id::uuid)"))
    rows = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
        "WHERE notification_id > %s AND notification_id <= %s AND {} = %s "
        "ORDER BY notification_id"
    )
    return (
        head.format(events).as_bytes(None),
        rows.format(events, partition).as_bytes(None),
    )
