"""Where the participant views live: one row per participant plus the tracking position.

Rows and the tracking position are written by one transaction, so a crash between two batches
neither applies an event twice nor skips one. Backends: SQLite, PostgreSQL, memory.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from eventsourcing.persistence import IntegrityError, Tracking

VIEW_NAME = "participant_views"


@dataclass(frozen=True)
class ViewRow:
    """One participant's view: filterable columns plus the fold's state as JSON text."""

    participant_id: str
    program_id: str
    status: str
    level: str | None
    state: str


class ViewStore(ABC):
    """A participant-views table and its tracking position in one store."""

    def __init__(self, view_name: str = VIEW_NAME) -> None:
        self.view_name = view_name

    @abstractmethod
    def create_tables(self) -> None: ...

    @abstractmethod
    def remove_tables(self) -> None:
        """Drop the view table and forget its tracking position."""

    def drop_tables(self) -> None:
        """Forget every row and the tracking position (the start of a rebuild)."""
        self.remove_tables()
        self.create_tables()

    @abstractmethod
    def position(self) -> int:
        """The log position of the last event applied (0 before any)."""

    @abstractmethod
    def load(self, participant_ids: Sequence[str]) -> dict[str, ViewRow]: ...

    @abstractmethod
    def commit(self, rows: Iterable[ViewRow], position: int) -> None:
        """Upsert `rows` and advance the tracking position to `position`, atomically."""

    @abstractmethod
    def select(
        self,
        *,
        program_ids: Sequence[str] | None = None,
        level: str | None = None,
        status: str | None = None,
    ) -> list[ViewRow]: ...

    @abstractmethod
    def all_rows(self) -> Iterable[ViewRow]:
        """Every row in participant-id order (for digests and exports)."""

    def get(self, participant_id: str) -> ViewRow | None:
        return self.load([participant_id]).get(participant_id)

    def digest(self) -> str:
        """A SHA-256 over every row and the position: equal digests, identical views."""
        h = hashlib.sha256(f"position={self.position()}\n".encode())
        for row in self.all_rows():
            h.update(
                "\x1f".join(
                    (row.participant_id, row.program_id, row.status, row.level or "", row.state)
                ).encode()
            )
            h.update(b"\n")
        return h.hexdigest()

    def tracking(self, position: int) -> Tracking:
        return Tracking(application_name=self.view_name, notification_id=position)


class MemoryViewStore(ViewStore):
    def __init__(self, view_name: str = VIEW_NAME) -> None:
        super().__init__(view_name)
        self._rows: dict[str, ViewRow] = {}
        self._position = 0
        self._lock = threading.Lock()

    def create_tables(self) -> None:
        pass

    def remove_tables(self) -> None:
        with self._lock:
            self._rows.clear()
            self._position = 0

    def position(self) -> int:
        return self._position

    def load(self, participant_ids: Sequence[str]) -> dict[str, ViewRow]:
        with self._lock:
            return {pid: self._rows[pid] for pid in participant_ids if pid in self._rows}

    def commit(self, rows: Iterable[ViewRow], position: int) -> None:
        with self._lock:
            # As the SQL stores' tracking insert: a position at or below the tracked one was
            # committed already (by this or a racing runner).
            if position <= self._position:
                msg = f"tracking is at {self._position}; cannot commit position {position}"
                raise IntegrityError(msg)
            self._rows.update({row.participant_id: row for row in rows})
            self._position = position

    def select(
        self,
        *,
        program_ids: Sequence[str] | None = None,
        level: str | None = None,
        status: str | None = None,
    ) -> list[ViewRow]:
        with self._lock:
            rows = sorted(self._rows.values(), key=lambda r: r.participant_id)
        return [
            r
            for r in rows
            if (program_ids is None or r.program_id in program_ids)
            and (level is None or r.level == level)
            and (status is None or r.status == status)
        ]

    def all_rows(self) -> Iterable[ViewRow]:
        return self.select()
