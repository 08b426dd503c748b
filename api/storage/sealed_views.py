"""Participant views stored sealed: any ViewStore, with each row's content encrypted at rest.

A view row's state is the participant's record in brief (program, levels, admission dates,
every session, screening outcomes), so with a key nothing of it is stored readable:

- `state` holds the sealed JSON of the whole row (program, status, level and the fold's state),
  bound to the participant's id, so a row copied onto another participant fails to open;
- `program_id`, `status` and `level` hold equality tags: the caseload still filters on them
  through the table's index, and a reader of the table learns which rows share a program,
  never which program it is.

The wrapper sits between the runner and the real store (memory, SQLite, PostgreSQL), so the
stores' transactions, tracking, partitions and online switch work unchanged on sealed rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder

from api.storage.cells import Cells, Where
from projections.view_store import ViewFilter, ViewRow, ViewStore

# One logical name for every view table (live, rebuilt, partition): a rebuilt table renamed
# into place must still open, so the associated data names the view, not the physical table.
VIEW_TABLE = "participant_views"


def seal_row(cells: Cells, row: ViewRow) -> ViewRow:
    """The row as stored: tags in the filter columns, the whole row sealed in `state`."""
    # The filter columns as a JSON line, then the state as it is: escaping the state's JSON
    # inside another JSON string would cost more than the encryption.
    content = json.dumps([row.program_id, row.status, row.level]) + "\n" + row.state
    return replace(
        row,
        program_id=cells.tag(row.program_id, "program_id"),
        status=cells.tag(row.status, "status"),
        level=None if row.level is None else cells.tag(row.level, "level"),
        state=cells.seal(content, Where(VIEW_TABLE, "state", row.participant_id)),
    )


def open_row(cells: Cells, stored: ViewRow) -> ViewRow:
    opened = cells.open(stored.state, Where(VIEW_TABLE, "state", stored.participant_id))
    header, state = opened.split("\n", 1)  # json.dumps never writes a raw newline
    program_id, status, level = json.loads(header)
    return replace(stored, program_id=program_id, status=status, level=level, state=state)


class SealedViewStore(ViewStore):
    """`inner`, with rows sealed by `cells` on the way in and opened on the way out."""

    def __init__(self, inner: ViewStore, cells: Cells) -> None:
        # No super().__init__: the names are the inner store's (partition() changes them).
        self.inner = inner
        self.cells = cells

    # Read-only here: the inner store owns the names.
    @property
    def view_name(self) -> str:  # type: ignore[override]
        return self.inner.view_name

    @property
    def tracking_name(self) -> str:  # type: ignore[override]
        return self.inner.tracking_name

    def partition(self, index: int, count: int) -> ViewStore:
        return SealedViewStore(self.inner.partition(index, count), self.cells)

    def _tracked(self) -> dict[str, int]:
        return self.inner._tracked()

    def position_and_growth(
        self, recorder: AggregateRecorder, stream_id: UUID, version: int
    ) -> tuple[int, bool]:
        # The position is not sealed: the inner store's (one statement on PostgreSQL).
        return self.inner.position_and_growth(recorder, stream_id, version)

    def tracking_look(self, datastore: object) -> tuple[Any, tuple[str, ...]] | None:
        return self.inner.tracking_look(datastore)  # tracking rows are not sealed

    def position_in(self, tracked: dict[str, int]) -> int:
        return self.inner.position_in(tracked)

    def create_tables(self) -> None:
        self.inner.create_tables()

    def remove_tables(self) -> None:
        self.inner.remove_tables()

    def load(self, participant_ids: Sequence[str]) -> dict[str, ViewRow]:
        return {k: open_row(self.cells, v) for k, v in self.inner.load(participant_ids).items()}

    def commit(self, rows: Iterable[ViewRow], position: int, start: int | None = None) -> None:
        self.inner.commit([seal_row(self.cells, r) for r in rows], position, start)

    def adopt_partitions(self, position: int) -> None:
        self.inner.adopt_partitions(position)

    def replace_with(self, fresh: ViewStore) -> bool:
        if not isinstance(fresh, SealedViewStore):
            raise TypeError("a sealed view is replaced by another sealed view")
        return self.inner.replace_with(fresh.inner)

    def select_where(self, where: ViewFilter) -> list[ViewRow]:
        found = self.inner.select_where(
            ViewFilter(
                program_ids=None
                if where.program_ids is None
                else [self.cells.tag(p, "program_id") for p in where.program_ids],
                level=None if where.level is None else self.cells.tag(where.level, "level"),
                status=None if where.status is None else self.cells.tag(where.status, "status"),
            )
        )
        return [open_row(self.cells, r) for r in found]

    def all_rows(self) -> Iterable[ViewRow]:
        # Sorted by participant id already (the inner store's order, by the plain key).
        return [open_row(self.cells, r) for r in self.inner.all_rows()]
