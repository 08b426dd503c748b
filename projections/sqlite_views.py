"""Participant views in the events' own SQLite file, tracked by the library's tracking table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from projections.view_store import VIEW_NAME, ViewRow, ViewStore

_COLUMNS = "participant_id, program_id, status, level, state"


class SQLiteViewStore(ViewStore):
    def __init__(self, datastore: SQLiteDatastore, view_name: str = VIEW_NAME) -> None:
        super().__init__(view_name)
        self.datastore = datastore
        self.tracking_recorder = SQLiteTrackingRecorder(self.datastore)
        self.table = view_name

    def create_tables(self) -> None:
        self.tracking_recorder.create_table()
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "participant_id TEXT PRIMARY KEY, program_id TEXT NOT NULL, "
                "status TEXT NOT NULL, level TEXT, state TEXT NOT NULL)"
            )
            c.execute(
                f"CREATE INDEX IF NOT EXISTS {self.table}_program "
                f"ON {self.table} (program_id, status)"
            )

    def remove_tables(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DROP TABLE IF EXISTS {self.table}")
            c.execute("DELETE FROM tracking WHERE application_name=?", (self.view_name,))

    def position(self) -> int:
        return self.tracking_recorder.max_tracking_id(self.view_name) or 0

    def load(self, participant_ids: Sequence[str]) -> dict[str, ViewRow]:
        found: dict[str, ViewRow] = {}
        ids = list(participant_ids)
        with self.datastore.transaction(commit=False) as c:
            # SQLite caps bound parameters per statement; 500 stays well inside every build.
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                c.execute(
                    f"SELECT {_COLUMNS} FROM {self.table} "
                    f"WHERE participant_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                for r in c.fetchall():
                    found[r[0]] = ViewRow(*r)
        return found

    def commit(self, rows: Iterable[ViewRow], position: int) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT INTO {self.table} ({_COLUMNS}) VALUES (?,?,?,?,?) "
                "ON CONFLICT (participant_id) DO UPDATE SET program_id=excluded.program_id, "
                "status=excluded.status, level=excluded.level, state=excluded.state",
                [(r.participant_id, r.program_id, r.status, r.level, r.state) for r in rows],
            )
            self.tracking_recorder._insert_tracking(c, self.tracking(position))

    def select(
        self,
        *,
        program_ids: Sequence[str] | None = None,
        level: str | None = None,
        status: str | None = None,
    ) -> list[ViewRow]:
        where, params = _filters(program_ids, level, status)
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {_COLUMNS} FROM {self.table}{where} ORDER BY participant_id", params)
            return [ViewRow(*r) for r in c.fetchall()]

    def all_rows(self) -> Iterable[ViewRow]:
        return self.select()


def _filters(
    program_ids: Sequence[str] | None, level: str | None, status: str | None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if program_ids is not None:
        clauses.append(f"program_id IN ({','.join('?' * len(program_ids)) or 'NULL'})")
        params.extend(program_ids)
    if level is not None:
        clauses.append("level=?")
        params.append(level)
    if status is not None:
        clauses.append("status=?")
        params.append(status)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
