"""Participant views in the events' PostgreSQL database, tracked by the library's tracking table."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, IntegrityError, OperationalError
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresDatastore,
    PostgresTrackingRecorder,
)
from psycopg.errors import TransactionRollback
from psycopg.sql import SQL, Composed, Identifier

from projections.pg_reads import single_statement
from projections.view_store import VIEW_NAME, ViewFilter, ViewRow, ViewStore

_COLUMNS = SQL("participant_id, program_id, status, level, state")


class PostgresViewStore(ViewStore):
    def __init__(self, datastore: PostgresDatastore, view_name: str = VIEW_NAME) -> None:
        super().__init__(view_name)
        self.datastore = datastore
        self.table = Identifier(datastore.schema), Identifier(f"continuum_{view_name}")
        self.tracking_recorder = PostgresTrackingRecorder(
            datastore, tracking_table_name="continuum_view_tracking"
        )
        # Statements read on every compliance read, rendered once per (tracking name, events
        # table): psycopg renders a composed statement again on every execute. Shared by this
        # store's partitions (copies), whose tracking names differ.
        self._rendered: dict[tuple[str, str | None], bytes] = {}

    def create_tables(self) -> None:
        self.tracking_recorder.create_table()
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {}.{} ("
                    "participant_id text PRIMARY KEY, program_id text NOT NULL, "
                    "status text NOT NULL, level text, state text NOT NULL)"
                ).format(*self.table)
            )
            # Rows are rewritten after every batch: store the state JSON uncompressed, so a
            # commit does not spend its time in pglz.
            curs.execute(
                SQL("ALTER TABLE {}.{} ALTER COLUMN state SET STORAGE EXTERNAL").format(*self.table)
            )
            curs.execute(
                SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} (program_id, status)").format(
                    Identifier(f"continuum_{self.view_name}_program"), *self.table
                )
            )

    def remove_tables(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL("DROP TABLE IF EXISTS {}.{}").format(*self.table))
            curs.execute(
                SQL("DELETE FROM {} WHERE application_name=%s OR starts_with(application_name, %s)")
                .format(self._tracking_table),
                (self.view_name, f"{self.view_name}#"),
            )  # fmt: skip

    @property
    def _tracking_table(self) -> Composed:
        return SQL("{}.{}").format(
            Identifier(self.datastore.schema),
            Identifier(self.tracking_recorder.tracking_table_name),
        )

    def _tracked(self) -> dict[str, int]:
        # The library keeps one tracking row per name (single-row tracking): a few rows.
        with single_statement(self.datastore) as curs:
            curs.execute(self._statement(None), self._tracking_params(), prepare=True)
            return {r["application_name"]: r["notification_id"] for r in curs.fetchall()}

    def _statement(self, events_table: str | None) -> bytes:
        """The tracking look, and with `events_table` the stream's growth beside it."""
        key = (self.tracking_name, events_table)
        rendered = self._rendered.get(key)
        if rendered is None:
            statement = self._tracking_look()
            if events_table is not None:
                statement = SQL(
                    "{} UNION ALL SELECT NULL, 0 WHERE EXISTS (SELECT 1 FROM {}.{} "
                    "WHERE originator_id = %s AND originator_version > %s)"
                ).format(statement, Identifier(self.datastore.schema), Identifier(events_table))
            rendered = self._rendered[key] = statement.as_bytes(None)
        return rendered

    def _tracking_params(self) -> tuple[str, ...]:
        if self.tracking_name != self.view_name:
            return (self.tracking_name,)
        return (self.view_name, f"{self.view_name}#")

    def _tracking_look(self) -> Composed:
        """The select of this view's tracking rows (its own, or its partitions')."""
        if self.tracking_name != self.view_name:
            return SQL(
                "SELECT application_name, notification_id FROM {} WHERE application_name=%s"
            ).format(self._tracking_table)
        return SQL(
            "SELECT application_name, notification_id FROM {} WHERE "
            "application_name=%s OR starts_with(application_name, %s)"
        ).format(self._tracking_table)

    def tracking_look(self, datastore: object) -> tuple[Any, tuple[str, ...]] | None:
        if datastore is not self.datastore:
            return None
        return self._tracking_look(), self._tracking_params()

    def position_and_growth(
        self, recorder: AggregateRecorder, stream_id: UUID, version: int
    ) -> tuple[int, bool]:
        """As ViewStore's, in one statement (one round trip) when `recorder` keeps its events
        in this store's database: asked one after the other the two looks were two round
        trips, and a psycopg round trip costs the client 64-98 us of CPU (docs/performance.md)."""
        if not (
            isinstance(recorder, PostgresAggregateRecorder) and recorder.datastore is self.datastore
        ):
            return super().position_and_growth(recorder, stream_id, version)
        params = (*self._tracking_params(), stream_id, version)
        with single_statement(self.datastore) as curs:
            curs.execute(self._statement(recorder.events_table_name), params, prepare=True)
            rows = curs.fetchall()
        tracked = {r["application_name"]: r["notification_id"] for r in rows}
        grown = tracked.pop(None, None) is not None
        return self._position_in(tracked)[0], grown

    def load(self, participant_ids: Sequence[str]) -> dict[str, ViewRow]:
        with single_statement(self.datastore) as curs:
            curs.execute(
                SQL("SELECT {} FROM {}.{} WHERE participant_id = ANY(%s)").format(
                    _COLUMNS, *self.table
                ),
                (list(participant_ids),),
            )
            return {r["participant_id"]: _row(r) for r in curs.fetchall()}

    @property
    def _lock_key(self) -> int:
        """The advisory lock key of the rows this store commits (a signed 64-bit int, stable
        across runs): the whole view's, or one partition's. Partitions fold disjoint sets of
        participants, so they never upsert the same rows and need not wait for each other
        (with one key for the table, two rebuild workers took turns and were slower than one)."""
        name = f"{self.datastore.schema}.continuum_{self.tracking_name}".encode()
        return int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)

    def commit(self, rows: Iterable[ViewRow], position: int, start: int | None = None) -> None:
        try:
            self._commit(rows, position, start)
        except OperationalError as error:
            # A deadlock or serialization failure rolled the batch back whole: the caller
            # re-reads the position and folds again, as after losing a race.
            if isinstance(error.__cause__, TransactionRollback):
                raise IntegrityError(str(error)) from error
            raise

    def _commit(self, rows: Iterable[ViewRow], position: int, start: int | None) -> None:
        with self.datastore.transaction(commit=True) as curs:
            # One committing batch at a time per view table, whichever process runs it: two
            # workers' upserts of the same rows in different orders deadlocked (measured: 54
            # "deadlock detected" in ten minutes of write load with two workers). The loser
            # waits here, then sees the winner's position below and drops its batch.
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,), prepare=True)
            if start is not None:
                # The tracking row first, locked (as replace_with takes it): a switch that
                # committed meanwhile is seen here, and the rows go nowhere.
                tracked = self._locked_position(curs, self.tracking_name)
                if tracked != start:
                    msg = f"{self.tracking_name} is at {tracked}, not {start}"
                    raise IntegrityError(msg)
            curs.executemany(
                SQL(
                    "INSERT INTO {}.{} ({}) VALUES (%s,%s,%s,%s,%s) "
                    "ON CONFLICT (participant_id) DO UPDATE SET "
                    "program_id=excluded.program_id, status=excluded.status, "
                    "level=excluded.level, state=excluded.state"
                ).format(*self.table, _COLUMNS),
                [
                    (r.participant_id, r.program_id, r.status, r.level, r.state)
                    for r in sorted(rows, key=lambda r: r.participant_id)
                ],
            )
            self.tracking_recorder._insert_tracking(curs, self.tracking(position))

    def _locked_position(self, curs: Any, name: str) -> int:
        curs.execute(
            SQL("SELECT notification_id FROM {} WHERE application_name=%s FOR UPDATE").format(
                self._tracking_table
            ),
            (name,),
            prepare=True,
        )
        found = curs.fetchone()
        return int(found["notification_id"]) if found else 0

    def adopt_partitions(self, position: int) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("DELETE FROM {} WHERE starts_with(application_name, %s)").format(
                    self._tracking_table
                ),
                (f"{self.view_name}#",),
            )
            self.tracking_recorder._insert_tracking(curs, self.tracking(position))

    def replace_with(self, fresh: ViewStore) -> bool:
        if not isinstance(fresh, PostgresViewStore) or fresh.datastore is not self.datastore:
            raise TypeError("a view is replaced by a view in the same database")
        with self.datastore.transaction(commit=True) as curs:
            # Lock order as commit(): the tracking row, then the table. Readers wait for the
            # ACCESS EXCLUSIVE lock (milliseconds) and then read the new table by name.
            live = self._locked_position(curs, self.tracking_name)
            reached = fresh._locked_position(curs, fresh.tracking_name)
            if reached < live:
                return False
            curs.execute(SQL("LOCK TABLE {}.{} IN ACCESS EXCLUSIVE MODE").format(*self.table))
            curs.execute(SQL("DROP TABLE {}.{}").format(*self.table))
            curs.execute(SQL("ALTER TABLE {}.{} RENAME TO {}").format(*fresh.table, self.table[1]))
            curs.execute(
                SQL("ALTER INDEX {}.{} RENAME TO {}").format(
                    Identifier(self.datastore.schema),
                    Identifier(f"continuum_{fresh.view_name}_program"),
                    Identifier(f"continuum_{self.view_name}_program"),
                )
            )
            # UPDATE, not DELETE + INSERT: a runner waiting on this row then reads the new
            # position and drops its batch (commit's check).
            curs.execute(
                SQL("UPDATE {} SET notification_id=%s WHERE application_name=%s").format(
                    self._tracking_table
                ),
                (reached, self.tracking_name),
            )
            if curs.rowcount == 0:
                self.tracking_recorder._insert_tracking(curs, self.tracking(reached))
            curs.execute(
                SQL("DELETE FROM {} WHERE application_name=%s").format(self._tracking_table),
                (fresh.tracking_name,),
            )
        return True

    def select_where(self, where: ViewFilter) -> list[ViewRow]:
        clauses: list[Composed | SQL] = []
        params: list[Any] = []
        if where.program_ids is not None:
            clauses.append(SQL("program_id = ANY(%s)"))
            params.append(list(where.program_ids))
        for column, value in where.equalities():
            clauses.append(SQL("{}=%s").format(Identifier(column)))
            params.append(value)
        sql_where = SQL(" WHERE ") + SQL(" AND ").join(clauses) if clauses else SQL("")
        with single_statement(self.datastore) as curs:
            curs.execute(
                SQL("SELECT {} FROM {}.{}{} ORDER BY participant_id").format(
                    _COLUMNS, *self.table, sql_where
                ),
                params,
            )
            return [_row(r) for r in curs.fetchall()]

    def all_rows(self) -> Iterable[ViewRow]:
        return self.select()


def _row(r: Any) -> ViewRow:
    return ViewRow(r["participant_id"], r["program_id"], r["status"], r["level"], r["state"])
