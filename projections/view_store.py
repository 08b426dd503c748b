"""Where the participant views live: one row per participant plus the tracking position.

Rows and the tracking position are written by one transaction, so a crash between two batches
neither applies an event twice nor skips one. Backends: SQLite, PostgreSQL, memory.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, IntegrityError, Tracking

# The stored row's shape is in the name: v2 added decided levels, screens' unexplained
# analytes, prescriptions and discharge details. A new name leaves the old table behind and
# the views rebuild from the log at start, instead of reading rows of the old shape.
VIEW_NAME = "participant_views_v2"


@dataclass(frozen=True)
class ViewRow:
    """One participant's view: filterable columns plus the fold's state as JSON text."""

    participant_id: str
    program_id: str
    status: str
    level: str | None
    state: str


def partition_name(view_name: str, index: int, count: int) -> str:
    """The tracking name of partition `index` of `count` of a view."""
    return f"{view_name}#{index}/{count}"


@dataclass(frozen=True)
class ViewFilter:
    """What a read of the views asks for: the programs, level and status to keep (None: any)."""

    program_ids: Sequence[str] | None = None
    level: str | None = None
    status: str | None = None

    def equalities(self) -> list[tuple[str, str]]:
        """(column, value) for the single-value filters that are set, for SQL backends."""
        pairs = (("level", self.level), ("status", self.status))
        return [(column, value) for column, value in pairs if value is not None]

    def matches(self, row: ViewRow) -> bool:
        return (
            (self.program_ids is None or row.program_id in self.program_ids)
            and (self.level is None or row.level == self.level)
            and (self.status is None or row.status == self.status)
        )


class ViewStore(ABC):
    """A participant-views table and its tracking position in one store.

    A store may be one partition of its table (`partition`): the same rows, tracked under the
    partition's own name, so N processes each fold their share of the participants. While a
    view has partition trackings and no tracking of its own, its position is the lowest
    partition's, and a whole-view runner leaves it alone (`partitioned`).
    """

    def __init__(self, view_name: str = VIEW_NAME) -> None:
        self.view_name = view_name
        self.tracking_name = view_name

    def partition(self, index: int, count: int) -> ViewStore:
        """This view's table, tracked as partition `index` of `count`."""
        if not 0 <= index < count:
            raise ValueError(f"partition {index}/{count}: needs 0 <= index < count")
        part = copy.copy(self)
        part.tracking_name = partition_name(self.view_name, index, count)
        return part

    @abstractmethod
    def _tracked(self) -> dict[str, int]:
        """Tracking name -> position, for this view's own tracking and its partitions'."""

    def position(self) -> int:
        """The log position of the last event applied (0 before any).

        A partitioned view (no tracking of its own): the lowest partition's position, once
        every partition of its count has one, since only then is every participant's row
        known to include all events up to it.
        """
        return self.tracked_position()[0]

    def partitioned(self) -> bool:
        """True while partition runners, not a whole-view runner, keep this view."""
        return self.tracked_position()[1]

    def position_and_growth(
        self, recorder: AggregateRecorder, stream_id: UUID, version: int
    ) -> tuple[int, bool]:
        """This view's position, and whether `recorder`'s stream `stream_id` has events past
        `version` (a compliance read asks both: the position it reports, and whether its
        program's policy changed since the version kept). Two looks here; a store beside the
        events in one database answers both in one statement."""
        grown = bool(recorder.select_events(stream_id, gt=version, limit=1))
        return self.position(), grown

    def tracking_look(self, datastore: object) -> tuple[Any, tuple[str, ...]] | None:
        """The select of this view's tracking rows (application_name, notification_id) and
        its parameters, when this store keeps them in `datastore`, for a caller that runs it
        inside a statement of its own (api.storage.read_gate) and gives the rows it read to
        `position_in`. None: this store cannot be looked at so."""
        return None

    def position_in(self, tracked: dict[str, int]) -> int:
        """The position the tracking rows `tracked` (as `_tracked` reads them) give."""
        return self._position_in(tracked)[0]

    def tracked_position(self) -> tuple[int, bool]:
        """(position, partitioned), from one look at the tracking table."""
        return self._position_in(self._tracked())

    def _position_in(self, tracked: dict[str, int]) -> tuple[int, bool]:
        """(position, partitioned), from what `_tracked` read."""
        if self.tracking_name in tracked or self.tracking_name != self.view_name:
            return tracked.get(self.tracking_name, 0), False
        parts = {k: v for k, v in tracked.items() if k != self.view_name}
        if not parts:
            return 0, False
        count = int(next(iter(parts)).rsplit("/", 1)[1])
        names = {partition_name(self.view_name, i, count) for i in range(count)}
        return (min(parts[n] for n in names) if names <= set(parts) else 0), True

    def partition_positions(self) -> dict[str, int]:
        return {k: v for k, v in self._tracked().items() if k != self.view_name}

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
    def load(self, participant_ids: Sequence[str]) -> dict[str, ViewRow]: ...

    @abstractmethod
    def commit(self, rows: Iterable[ViewRow], position: int, start: int | None = None) -> None:
        """Upsert `rows` and advance the tracking position to `position`, atomically.

        With `start` (the position the rows were folded from), raise IntegrityError instead
        if the tracked position is no longer `start`: another runner, or an online rebuild's
        switch, moved the view while these rows were folded.
        """

    @abstractmethod
    def adopt_partitions(self, position: int) -> None:
        """End a partitioned rebuild: track the whole view at `position` and forget the
        partitions' trackings, in one transaction (every partition must have reached it)."""

    @abstractmethod
    def replace_with(self, fresh: ViewStore) -> bool:
        """Switch to `fresh`'s table and position in one transaction, if `fresh` has reached
        this view's position; False (nothing changed) if it has not."""

    def select(
        self,
        *,
        program_ids: Sequence[str] | None = None,
        level: str | None = None,
        status: str | None = None,
    ) -> list[ViewRow]:
        """Rows in participant-id order; a filter left as None does not filter."""
        return self.select_where(ViewFilter(program_ids, level, status))

    @abstractmethod
    def select_where(self, where: ViewFilter) -> list[ViewRow]:
        """`select` for each backend: the rows `where` matches, in participant-id order."""

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
        return Tracking(application_name=self.tracking_name, notification_id=position)


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

    def _tracked(self) -> dict[str, int]:
        return {self.view_name: self._position} if self._position else {}

    def load(self, participant_ids: Sequence[str]) -> dict[str, ViewRow]:
        with self._lock:
            return {pid: self._rows[pid] for pid in participant_ids if pid in self._rows}

    def commit(self, rows: Iterable[ViewRow], position: int, start: int | None = None) -> None:
        with self._lock:
            # As the SQL stores' tracking insert: a position at or below the tracked one was
            # committed already (by this or a racing runner).
            if position <= self._position or (start is not None and start != self._position):
                msg = f"tracking is at {self._position}; cannot commit position {position}"
                raise IntegrityError(msg)
            self._rows.update({row.participant_id: row for row in rows})
            self._position = position

    def select_where(self, where: ViewFilter) -> list[ViewRow]:
        with self._lock:
            rows = sorted(self._rows.values(), key=lambda r: r.participant_id)
        return [r for r in rows if where.matches(r)]

    def all_rows(self) -> Iterable[ViewRow]:
        return self.select()

    def partition(self, index: int, count: int) -> ViewStore:
        raise NotImplementedError("in-memory views are kept by one process, not partitioned")

    def adopt_partitions(self, position: int) -> None:
        raise NotImplementedError("in-memory views are kept by one process, not partitioned")

    def replace_with(self, fresh: ViewStore) -> bool:
        if not isinstance(fresh, MemoryViewStore):
            raise TypeError("an in-memory view is replaced by another in-memory view")
        with self._lock, fresh._lock:
            if fresh._position < self._position:
                return False
            self._rows, self._position = dict(fresh._rows), fresh._position
            fresh._rows, fresh._position = {}, 0
        return True
