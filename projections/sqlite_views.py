"""Participant views in the events' own SQLite file, tracked by the library's tracking table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from projections.view_store import VIEW_NAME, ViewFilter, ViewRow, ViewStore

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
            c.execute(
                "DELETE FROM tracking WHERE application_name=? OR substr(application_name, 1, ?)=?",
                (self.view_name, *self._partition_prefix()),
            )

    def _partition_prefix(self) -> tuple[int, str]:
        prefix = f"{self.view_name}#"
        return len(prefix), prefix

    def _tracked(self) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as c:
            if self.tracking_name != self.view_name:
                c.execute(
                    "SELECT application_name, MAX(notification_id) FROM tracking "
                    "WHERE application_name=? GROUP BY application_name",
                    (self.tracking_name,),
                )
            else:
                c.execute(
                    "SELECT application_name, MAX(notification_id) FROM tracking "
                    "WHERE application_name=? OR substr(application_name, 1, ?)=? "
                    "GROUP BY application_name",
                    (self.view_name, *self._partition_prefix()),
                )
            return {r[0]: r[1] for r in c.fetchall()}

    def _position_of(self, c: Any, name: str) -> int:
        c.execute("SELECT MAX(notification_id) FROM tracking WHERE application_name=?", (name,))
        found = c.fetchone()
        return int(found[0]) if found and found[0] is not None else 0

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

    def commit(self, rows: Iterable[ViewRow], position: int, start: int | None = None) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT INTO {self.table} ({_COLUMNS}) VALUES (?,?,?,?,?) "
                "ON CONFLICT (participant_id) DO UPDATE SET program_id=excluded.program_id, "
                "status=excluded.status, level=excluded.level, state=excluded.state",
                [(r.participant_id, r.program_id, r.status, r.level, r.state) for r in rows],
            )
            # Checked after the first write: the transaction (a deferred BEGIN) then holds
            # SQLite's one write lock, so the position cannot move before the commit.
            if start is not None and (tracked := self._position_of(c, self.tracking_name)) != start:
                msg = f"{self.tracking_name} is at {tracked}, not {start}"
                raise IntegrityError(msg)
            self.tracking_recorder._insert_tracking(c, self.tracking(position))

    def adopt_partitions(self, position: int) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "DELETE FROM tracking WHERE substr(application_name, 1, ?)=?",
                self._partition_prefix(),
            )
            self.tracking_recorder._insert_tracking(c, self.tracking(position))

    def replace_with(self, fresh: ViewStore) -> bool:
        if not isinstance(fresh, SQLiteViewStore) or fresh.datastore is not self.datastore:
            raise TypeError("a view is replaced by a view in the same database")
        with self.datastore.transaction(commit=True) as c:
            # A write first, so this deferred transaction holds the write lock before it reads.
            c.execute("UPDATE tracking SET notification_id=notification_id WHERE 0")
            live = self._position_of(c, self.tracking_name)
            reached = self._position_of(c, fresh.tracking_name)
            if reached < live:
                return False
            c.execute(f"DROP TABLE {self.table}")
            c.execute(f"ALTER TABLE {fresh.table} RENAME TO {self.table}")
            c.execute(f"DROP INDEX IF EXISTS {fresh.table}_program")
            c.execute(f"CREATE INDEX {self.table}_program ON {self.table} (program_id, status)")
            c.execute(
                "DELETE FROM tracking WHERE application_name IN (?, ?)",
                (self.tracking_name, fresh.tracking_name),
            )
            self.tracking_recorder._insert_tracking(c, self.tracking(reached))
        return True

    def select_where(self, where: ViewFilter) -> list[ViewRow]:
        clauses, params = _filters(where)
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {_COLUMNS} FROM {self.table}{clauses} ORDER BY participant_id", params
            )
            return [ViewRow(*r) for r in c.fetchall()]

    def all_rows(self) -> Iterable[ViewRow]:
        return self.select()


def _filters(where: ViewFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if where.program_ids is not None:
        clauses.append(f"program_id IN ({','.join('?' * len(where.program_ids)) or 'NULL'})")
        params.extend(where.program_ids)
    for column, value in where.equalities():
        clauses.append(f"{column}=?")
        params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
