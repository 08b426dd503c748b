"""The append-only disclosure log (42 CFR Part 2) and the feed checkpoints, beside the events.

One row per participant per disclosure: who received which of the participant's events, when,
and through which channel. The application never updates or deletes a row, and the durable
stores refuse to (a trigger aborts UPDATE and DELETE), so the log is a record, not a cache.

A checkpoint is a named consumer's feed position (the NATS relay's). It is written in the same
transaction as the disclosures it made, so a disclosure is logged exactly when the position
passes it.

With a cipher key the recipient is sealed (api.storage.cells) and looked up by its equality
tag, and a checkpoint's name (which names its recipient) is stored as a tag. The tables are laid
out by the schema migrations (api.storage.schema); like the access log, the log is one interface
with memory, SQLite and PostgreSQL implementations, chosen by the composition root.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.sql import SQL, Identifier

from api.storage.cells import PLAIN, Cells, Where, row_at
from projections.pg_reads import single_statement

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


TABLE = "disclosures"  # the logical names sealed cells are bound to, on every backend
CHECKPOINTS = "feed_checkpoints"


@dataclass(frozen=True)
class DisclosureFilter:
    """What `DisclosureLog.select` was asked for."""

    recipient: str | None
    participant_id: UUID | None
    after: int
    limit: int


class DisclosureLog(ABC):
    """Append-only storage of disclosures, and the feed consumers' checkpoints beside them."""

    def __init__(self, cells: Cells = PLAIN) -> None:
        self.cells = cells

    @abstractmethod
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
    ) -> list[Disclosure]:
        """Disclosures with id greater than `after`, oldest first."""
        return self._select(DisclosureFilter(recipient, participant_id, after, limit))

    @abstractmethod
    def _select(self, where: DisclosureFilter) -> list[Disclosure]:
        """`select`, given its filter: what each backend implements."""

    def _equalities(self, where: DisclosureFilter) -> list[tuple[str, Any]]:
        """The SQL stores' equality conditions (column, value): the recipient by its tag."""
        found: list[tuple[str, Any]] = []
        if where.recipient is not None:
            found.append(("recipient_tag", self._recipient_tag(where.recipient)))
        if where.participant_id is not None:
            found.append(("participant_id", where.participant_id))
        return found

    @abstractmethod
    def checkpoint(self, name: str) -> int:
        """The named consumer's position (0 before its first)."""

    def _recipient_tag(self, recipient: str) -> str:
        return self.cells.tag(recipient, "recipient")

    @abstractmethod
    def checkpoint_positions(self) -> dict[str, int]:
        """Every named consumer's position (the relays', for metrics)."""

    def _checkpoint_name(self, tag: str, sealed_name: str | None) -> str:
        """A stored checkpoint's name: opened from its sealed copy (the name column holds
        its tag on a keyed store)."""
        if sealed_name is None:
            return tag
        return self.cells.open(sealed_name, Where(CHECKPOINTS, "name", tag))

    def _checkpoint_tag(self, name: str) -> str:
        return self.cells.tag(name, "checkpoint")

    def _checkpoint_row(self, checkpoint: Checkpoint) -> tuple[str, int, str]:
        """(name tag, position, sealed name): the name kept sealed too, so that a key
        rotation, which cannot invert a tag, can tag it again under the new key."""
        name, position = checkpoint
        tag = self._checkpoint_tag(name)
        return tag, position, self.cells.seal(name, Where(CHECKPOINTS, "name", tag))

    def _values(self, d: Disclosure) -> tuple[Any, ...]:
        """The stored row, in _INSERTED's order."""
        ids = json.dumps([str(e) for e in d.event_ids])
        where = Where(TABLE, "recipient", row_at(d.participant_id, d.disclosed_at))
        recipient = self.cells.seal(d.recipient, where)
        tag = self._recipient_tag(d.recipient)
        return (d.disclosed_at, recipient, str(d.participant_id), ids, d.channel, tag)

    def _row(self, row: Sequence[Any]) -> Disclosure:
        ident, disclosed_at, recipient, participant_id, event_ids, channel = row
        if isinstance(disclosed_at, str):
            disclosed_at = datetime.fromisoformat(disclosed_at)
        where = Where(TABLE, "recipient", row_at(str(participant_id), disclosed_at))
        return Disclosure(
            id=int(ident),
            disclosed_at=disclosed_at,
            recipient=self.cells.open(recipient, where),
            participant_id=UUID(str(participant_id)),
            event_ids=tuple(UUID(e) for e in json.loads(event_ids)),
            channel=channel,
        )


_COLUMNS = "id, disclosed_at, recipient, participant_id, event_ids, channel"
_INSERTED = "disclosed_at, recipient, participant_id, event_ids, channel, recipient_tag"


class SQLiteDisclosureLog(DisclosureLog):
    def __init__(self, datastore: SQLiteDatastore, cells: Cells = PLAIN) -> None:
        super().__init__(cells)
        self.datastore = datastore

    def record(
        self, disclosures: Sequence[Disclosure], checkpoint: Checkpoint | None = None
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT INTO disclosures ({_INSERTED}) VALUES (?,?,?,?,?,?)",
                [(d.disclosed_at.isoformat(), *self._values(d)[1:]) for d in disclosures],
            )
            if checkpoint is not None:
                c.execute(
                    "INSERT INTO feed_checkpoints (name, position, sealed_name) VALUES (?,?,?) "
                    "ON CONFLICT (name) DO UPDATE SET position=excluded.position",
                    self._checkpoint_row(checkpoint),
                )

    def _select(self, where: DisclosureFilter) -> list[Disclosure]:
        conditions = [(c, str(v) if isinstance(v, UUID) else v) for c, v in self._equalities(where)]
        clause = " AND ".join(["id > ?", *(f"{column} = ?" for column, _ in conditions)])
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {_COLUMNS} FROM disclosures WHERE {clause} ORDER BY id LIMIT ?",
                [where.after, *(value for _, value in conditions), where.limit],
            )
            return [self._row(r) for r in c.fetchall()]

    def checkpoint(self, name: str) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT position FROM feed_checkpoints WHERE name = ?",
                (self._checkpoint_tag(name),),
            )
            found = c.fetchone()
        return int(found[0]) if found else 0

    def checkpoint_positions(self) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT name, sealed_name, position FROM feed_checkpoints")
            rows = c.fetchall()
        return {self._checkpoint_name(str(tag), sealed): int(at) for tag, sealed, at in rows}


class PostgresDisclosureLog(DisclosureLog):
    def __init__(self, datastore: PostgresDatastore, cells: Cells = PLAIN) -> None:
        super().__init__(cells)
        self.datastore = datastore
        schema = Identifier(datastore.schema)
        self.table = schema, Identifier("continuum_disclosures")
        self.checkpoints = schema, Identifier("continuum_feed_checkpoints")

    def record(
        self, disclosures: Sequence[Disclosure], checkpoint: Checkpoint | None = None
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            if disclosures:
                curs.executemany(
                    SQL("INSERT INTO {}.{} ({}) VALUES (%s,%s,%s,%s,%s,%s)").format(
                        *self.table, SQL(_INSERTED)
                    ),
                    [self._values(d) for d in disclosures],
                )
            if checkpoint is not None:
                curs.execute(
                    SQL(
                        "INSERT INTO {}.{} (name, position, sealed_name) VALUES (%s,%s,%s) "
                        "ON CONFLICT (name) DO UPDATE SET position=excluded.position"
                    ).format(*self.checkpoints),
                    self._checkpoint_row(checkpoint),
                )

    def _select(self, where: DisclosureFilter) -> list[Disclosure]:
        conditions = self._equalities(where)
        clause = SQL(" AND ").join(
            [SQL("id > %s"), *(SQL("{} = %s").format(Identifier(c)) for c, _ in conditions)]
        )
        statement = SQL("SELECT {} FROM {}.{} WHERE {} ORDER BY id LIMIT %s").format(
            SQL(_COLUMNS.replace("event_ids", "event_ids::text")), *self.table, clause
        )
        with single_statement(self.datastore) as curs:
            curs.execute(statement, [where.after, *(value for _, value in conditions), where.limit])
            return [self._row(list(r.values())) for r in curs.fetchall()]

    def checkpoint(self, name: str) -> int:
        with single_statement(self.datastore) as curs:
            curs.execute(
                SQL("SELECT position FROM {}.{} WHERE name = %s").format(*self.checkpoints),
                (self._checkpoint_tag(name),),
            )
            found = curs.fetchone()
        return int(found["position"]) if found else 0

    def checkpoint_positions(self) -> dict[str, int]:
        with single_statement(self.datastore) as curs:
            curs.execute(
                SQL("SELECT name, sealed_name, position FROM {}.{}").format(*self.checkpoints)
            )
            rows = curs.fetchall()
        return {
            self._checkpoint_name(str(r["name"]), r["sealed_name"]): int(r["position"])
            for r in rows
        }


class MemoryDisclosureLog(DisclosureLog):
    """For memory:// stores: gone with the process, like the events."""

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[Disclosure] = []
        self._checkpoints: dict[str, int] = {}
        self._lock = threading.Lock()

    def record(
        self, disclosures: Sequence[Disclosure], checkpoint: Checkpoint | None = None
    ) -> None:
        with self._lock:
            for d in disclosures:
                self._rows.append(replace(d, id=len(self._rows) + 1))
            if checkpoint is not None:
                self._checkpoints[checkpoint[0]] = checkpoint[1]

    def _select(self, where: DisclosureFilter) -> list[Disclosure]:
        with self._lock:
            found = [
                d
                for d in self._rows[where.after :]
                if (where.recipient is None or d.recipient == where.recipient)
                and (where.participant_id is None or d.participant_id == where.participant_id)
            ]
        return found[: where.limit]

    def checkpoint(self, name: str) -> int:
        with self._lock:
            return self._checkpoints.get(name, 0)

    def checkpoint_positions(self) -> dict[str, int]:
        with self._lock:
            return dict(self._checkpoints)
