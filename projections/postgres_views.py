"""Participant views in the events' PostgreSQL database, tracked by the library's tracking table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL, Composed, Identifier

from projections.view_store import VIEW_NAME, ViewRow, ViewStore

_COLUMNS = SQL("participant_id, program_id, status, level, state")


class PostgresViewStore(ViewStore):
    def __init__(self, datastore: PostgresDatastore, view_name: str = VIEW_NAME) -> None:
        super().__init__(view_name)
        self.datastore = datastore
        self.table = Identifier(datastore.schema), Identifier(f"continuum_{view_name}")
        self.tracking_recorder = PostgresTrackingRecorder(
            datastore, tracking_table_name="continuum_view_tracking"
        )

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
                SQL("DELETE FROM {}.{} WHERE application_name=%s").format(
                    Identifier(self.datastore.schema),
                    Identifier(self.tracking_recorder.tracking_table_name),
                ),
                (self.view_name,),
            )

    def position(self) -> int:
        return self.tracking_recorder.max_tracking_id(self.view_name) or 0

    def load(self, participant_ids: Sequence[str]) -> dict[str, ViewRow]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT {} FROM {}.{} WHERE participant_id = ANY(%s)").format(
                    _COLUMNS, *self.table
                ),
                (list(participant_ids),),
            )
            return {r["participant_id"]: _row(r) for r in curs.fetchall()}

    def commit(self, rows: Iterable[ViewRow], position: int) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.executemany(
                SQL(
                    "INSERT INTO {}.{} ({}) VALUES (%s,%s,%s,%s,%s) "
                    "ON CONFLICT (participant_id) DO UPDATE SET "
                    "program_id=excluded.program_id, status=excluded.status, "
                    "level=excluded.level, state=excluded.state"
                ).format(*self.table, _COLUMNS),
                [(r.participant_id, r.program_id, r.status, r.level, r.state) for r in rows],
            )
            self.tracking_recorder._insert_tracking(curs, self.tracking(position))

    def select(
        self,
        *,
        program_ids: Sequence[str] | None = None,
        level: str | None = None,
        status: str | None = None,
    ) -> list[ViewRow]:
        clauses: list[Composed | SQL] = []
        params: list[Any] = []
        if program_ids is not None:
            clauses.append(SQL("program_id = ANY(%s)"))
            params.append(list(program_ids))
        if level is not None:
            clauses.append(SQL("level=%s"))
            params.append(level)
        if status is not None:
            clauses.append(SQL("status=%s"))
            params.append(status)
        where = SQL(" WHERE ") + SQL(" AND ").join(clauses) if clauses else SQL("")
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT {} FROM {}.{}{} ORDER BY participant_id").format(
                    _COLUMNS, *self.table, where
                ),
                params,
            )
            return [_row(r) for r in curs.fetchall()]

    def all_rows(self) -> Iterable[ViewRow]:
        return self.select()


def _row(r: Any) -> ViewRow:
    return ViewRow(r["participant_id"], r["program_id"], r["status"], r["level"], r["state"])
