"""The append-only disclosure log (42 CFR Part 2) and the feed checkpoints, beside the events.

One row per participant per disclosure: who received which of the participant's events, when,
and through which channel. The application never updates or deletes a row, and the durable
stores refuse to (a trigger aborts UPDATE and DELETE), so the log is a record, not a cache.

A checkpoint is a named consumer's feed position (the NATS relay's). It is written in the same
transaction as the disclosures it made, so a disclosure is logged exactly when the position
passes it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.sql import SQL, Identifier

from api.storage.privileges import postgres_guards, sqlite_guards

Checkpoint = tuple[str, int]  # consumer name, feed position


@dataclass(frozen=True)
class Disclosure:
    """Events of one participant disclosed to one recipient at one moment."""

    recipient: str
    participant_id: UUID
    event_ids: tuple[UUID, ...]
    disclosed_at: datetime
    channel: str  # "feed", "stream", "nats" or "fhir"
    id: int | None = None  # the log's own sequence, set once recorded

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "recipient": self.recipient,
            "participant_id": str(self.participant_id),
            "event_ids": [str(e) for e in self.event_ids],
            "disclosed_at": self.disclosed_at.isoformat().replace("+00:00", "Z"),
            "channel": self.channel,
        }


class DisclosureLog(Protocol):
    def create_tables(self) -> None: ...

    def record(
        self, disclosures: Sequence[Disclosure], checkpoint: Checkpoint | None = None
    ) -> None:
        """Append the disclosures (and move a checkpoint) in one transaction."""

    def select(
        self,
        *,
        recipient: str | None = None,
        participant_id: UUID | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[Disclosure]: ...

    def checkpoint(self, name: str) -> int:
        """The named consumer's position (0 before its first)."""

    def checkpoint_positions(self) -> dict[str, int]:
        """Every named consumer's position (the relays', for metrics)."""


def _row(row: Sequence[Any]) -> Disclosure:
    ident, disclosed_at, recipient, participant_id, event_ids, channel = row
    if isinstance(disclosed_at, str):
        disclosed_at = datetime.fromisoformat(disclosed_at)
    return Disclosure(
        id=int(ident),
        disclosed_at=disclosed_at,
        recipient=recipient,
        participant_id=UUID(str(participant_id)),
        event_ids=tuple(UUID(e) for e in json.loads(event_ids)),
        channel=channel,
    )


def _values(d: Disclosure) -> tuple[Any, ...]:
    ids = json.dumps([str(e) for e in d.event_ids])
    return (d.disclosed_at, d.recipient, str(d.participant_id), ids, d.channel)


_COLUMNS = "id, disclosed_at, recipient, participant_id, event_ids, channel"


class SQLiteDisclosureLog:
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def create_tables(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS disclosures ("
                "id INTEGER PRIMARY KEY AUTOINCREMENT, disclosed_at TEXT NOT NULL, "
                "recipient TEXT NOT NULL, participant_id TEXT NOT NULL, "
                "event_ids TEXT NOT NULL, channel TEXT NOT NULL)"
            )
            c.execute(
                "CREATE INDEX IF NOT EXISTS disclosures_recipient ON disclosures (recipient, id)"
            )
            c.execute(
                "CREATE INDEX IF NOT EXISTS disclosures_participant "
                "ON disclosures (participant_id, id)"
            )
            for guard in sqlite_guards("disclosures", "the disclosure log"):
                c.execute(guard)
            c.execute(
                "CREATE TABLE IF NOT EXISTS feed_checkpoints ("
                "name TEXT PRIMARY KEY, position INTEGER NOT NULL)"
            )

    def record(
        self, disclosures: Sequence[Disclosure], checkpoint: Checkpoint | None = None
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                "INSERT INTO disclosures "
                "(disclosed_at, recipient, participant_id, event_ids, channel) "
                "VALUES (?,?,?,?,?)",
                [(d.disclosed_at.isoformat(), *_values(d)[1:]) for d in disclosures],
            )
            if checkpoint is not None:
                c.execute(
                    "INSERT INTO feed_checkpoints (name, position) VALUES (?,?) "
                    "ON CONFLICT (name) DO UPDATE SET position=excluded.position",
                    checkpoint,
                )

    def select(
        self,
        *,
        recipient: str | None = None,
        participant_id: UUID | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[Disclosure]:
        where, params = ["id > ?"], [after]
        if recipient is not None:
            where.append("recipient = ?")
            params.append(recipient)  # type: ignore[arg-type]  # mixed parameter list
        if participant_id is not None:
            where.append("participant_id = ?")
            params.append(str(participant_id))  # type: ignore[arg-type]  # mixed parameter list
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {_COLUMNS} FROM disclosures WHERE {' AND '.join(where)} "
                "ORDER BY id LIMIT ?",
                [*params, limit],
            )
            return [_row(r) for r in c.fetchall()]

    def checkpoint(self, name: str) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT position FROM feed_checkpoints WHERE name = ?", (name,))
            found = c.fetchone()
        return int(found[0]) if found else 0

    def checkpoint_positions(self) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT name, position FROM feed_checkpoints")
            return {str(name): int(position) for name, position in c.fetchall()}


class PostgresDisclosureLog:
    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        schema = Identifier(datastore.schema)
        self.table = schema, Identifier("continuum_disclosures")
        self.checkpoints = schema, Identifier("continuum_feed_checkpoints")

    def create_tables(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {}.{} ("
                    "id bigserial PRIMARY KEY, disclosed_at timestamptz NOT NULL, "
                    "recipient text NOT NULL, participant_id uuid NOT NULL, "
                    "event_ids jsonb NOT NULL, channel text NOT NULL)"
                ).format(*self.table)
            )
            for column in ("recipient", "participant_id"):
                curs.execute(
                    SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} ({}, id)").format(
                        Identifier(f"continuum_disclosures_{column}"),
                        *self.table,
                        Identifier(column),
                    )
                )
            # Append-only in the database too (api.storage.privileges).
            for guard in postgres_guards(self.datastore.schema, "continuum_disclosures"):
                curs.execute(guard)
            curs.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {}.{} ("
                    "name text PRIMARY KEY, position bigint NOT NULL)"
                ).format(*self.checkpoints)
            )

    def record(
        self, disclosures: Sequence[Disclosure], checkpoint: Checkpoint | None = None
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            if disclosures:
                curs.executemany(
                    SQL(
                        "INSERT INTO {}.{} "
                        "(disclosed_at, recipient, participant_id, event_ids, channel) "
                        "VALUES (%s,%s,%s,%s,%s)"
                    ).format(*self.table),
                    [_values(d) for d in disclosures],
                )
            if checkpoint is not None:
                curs.execute(
                    SQL(
                        "INSERT INTO {}.{} (name, position) VALUES (%s,%s) "
                        "ON CONFLICT (name) DO UPDATE SET position=excluded.position"
                    ).format(*self.checkpoints),
                    checkpoint,
                )

    def select(
        self,
        *,
        recipient: str | None = None,
        participant_id: UUID | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[Disclosure]:
        where = [SQL("id > %s")]
        params: list[Any] = [after]
        if recipient is not None:
            where.append(SQL("recipient = %s"))
            params.append(recipient)
        if participant_id is not None:
            where.append(SQL("participant_id = %s"))
            params.append(participant_id)
        statement = SQL("SELECT {} FROM {}.{} WHERE {} ORDER BY id LIMIT %s").format(
            SQL(_COLUMNS.replace("event_ids", "event_ids::text")),
            *self.table,
            SQL(" AND ").join(where),
        )
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(statement, [*params, limit])
            return [_row(list(r.values())) for r in curs.fetchall()]

    def checkpoint(self, name: str) -> int:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT position FROM {}.{} WHERE name = %s").format(*self.checkpoints),
                (name,),
            )
            found = curs.fetchone()
        return int(found["position"]) if found else 0

    def checkpoint_positions(self) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT name, position FROM {}.{}").format(*self.checkpoints))
            return {str(r["name"]): int(r["position"]) for r in curs.fetchall()}


class MemoryDisclosureLog:
    """For memory:// stores: gone with the process, like the events."""

    def __init__(self) -> None:
        self._rows: list[Disclosure] = []
        self._checkpoints: dict[str, int] = {}
        self._lock = threading.Lock()

    def create_tables(self) -> None:
        return None

    def record(
        self, disclosures: Sequence[Disclosure], checkpoint: Checkpoint | None = None
    ) -> None:
        with self._lock:
            for d in disclosures:
                self._rows.append(replace(d, id=len(self._rows) + 1))
            if checkpoint is not None:
                self._checkpoints[checkpoint[0]] = checkpoint[1]

    def select(
        self,
        *,
        recipient: str | None = None,
        participant_id: UUID | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[Disclosure]:
        with self._lock:
            found = [
                d
                for d in self._rows[after:]
                if (recipient is None or d.recipient == recipient)
                and (participant_id is None or d.participant_id == participant_id)
            ]
        return found[:limit]

    def checkpoint(self, name: str) -> int:
        with self._lock:
            return self._checkpoints.get(name, 0)

    def checkpoint_positions(self) -> dict[str, int]:
        with self._lock:
            return dict(self._checkpoints)
