"""Rewriting stored rows under another key: one function per table, one batch at a time.

Used twice: the schema migration that seals a store written before its side tables were
encrypted (from `PLAIN` to the store's key), and key rotation (from the old key to the new one,
api.storage.rotation). Each function rewrites its table's rows in key order, `Batches.size` at a
time, each batch in the transaction `Batches.transaction` gives (the migration's one
transaction, or one per batch for a rotation that may be killed and resumed). A row already
sealed under the new key is left as it is, so a rewrite started again carries on where it
stopped, and no row is ever rewritten twice.

The append-only logs' own triggers refuse UPDATE: the rewrite lifts them inside its transaction
only (`Db.suspend_guards`), so no other session ever sees the logs unguarded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.storage.access_log import SEALED_FIELDS
from api.storage.access_log import TABLE as ACCESS_LOG
from api.storage.cells import Cells, Where, row_at
from api.storage.disclosure_log import CHECKPOINTS
from api.storage.disclosure_log import TABLE as DISCLOSURES
from api.storage.recorders import RECEIPTS, seal_receipt
from api.storage.schema import Db, Tables, bare
from api.storage.sealed_views import open_row, seal_row
from projections.view_store import ViewRow

Row = tuple[Any, ...]
Transform = Callable[[Row], Sequence[Any] | None]  # the row's new values (key last), or None


@dataclass(frozen=True)
class Batches:
    """How a rewrite commits: `size` rows per batch, each in `transaction(db)`."""

    size: int = 500
    transaction: Callable[[Db], AbstractContextManager[Any]] = lambda db: nullcontext()
    progress: Callable[[str, int], None] = lambda table, rows: None


def per_batch(size: int, progress: Callable[[str, int], None]) -> Batches:
    """A transaction per batch: what a rotation that may be killed mid-way uses."""
    return Batches(size, lambda db: db.transaction(), progress)


def rewrite_rows(
    db: Db,
    table: str,
    key: str | Sequence[str],
    read: Sequence[str],
    write: Sequence[str],
    transform: Transform,
    batches: Batches,
) -> int:
    """Rewrite `write` columns of `table`'s rows, in `key` order; the number rewritten.

    `transform` gets (*key, *read) and answers the new values of `write` and then the row's
    key, or None to leave the row as it is.
    """
    keys = (key,) if isinstance(key, str) else tuple(key)
    order = ", ".join(keys)
    columns = ", ".join((*keys, *read))
    placeholders = ", ".join("?" * len(keys))
    first = f"SELECT {columns} FROM {table} ORDER BY {order} LIMIT ?"
    select = (
        f"SELECT {columns} FROM {table} WHERE ({order}) > ({placeholders}) ORDER BY {order} LIMIT ?"
    )
    matches = " AND ".join(f"{k}=?" for k in keys)
    update = f"UPDATE {table} SET {', '.join(f'{c}=?' for c in write)} WHERE {matches}"
    after: Row | None = None
    changed = 0
    while True:
        with batches.transaction(db):
            if after is None:
                rows = db.rows(first, (batches.size,))
            else:
                rows = db.rows(select, (*after, batches.size))
            updates = [u for u in map(transform, rows) if u is not None]
            if updates:
                restore = db.suspend_guards(table)
                for values in updates:
                    db.execute(update, values)
                db.restore_guards(table, restore)
        if not rows:
            return changed
        changed += len(updates)
        batches.progress(bare(table), changed)
        after = rows[-1][: len(keys)]


def _done(new: Cells, stored: str | None) -> bool:
    """True if a keyed rewrite already sealed this cell (a plain one never skips: it compares)."""
    return new.encrypted and stored is not None and new.sealed_here(stored)


def _moment(at: Any) -> datetime:
    return datetime.fromisoformat(at) if isinstance(at, str) else at


def rewrite_access_log_rows(db: Db, t: Tables, old: Cells, new: Cells, batches: Batches) -> int:
    def transform(row: Row) -> Sequence[Any] | None:
        entry_id, at, participant_id, *cells = row
        if _done(new, cells[0]):
            return None
        where = row_at(str(participant_id), _moment(at))
        values = [
            None if v is None else new.seal(old.open(v, cell), cell)
            for c, v in zip(SEALED_FIELDS, cells, strict=True)
            for cell in (Where(ACCESS_LOG, c, where),)
        ]
        return None if values == cells else (*values, entry_id)

    read = ("at", "participant_id", *SEALED_FIELDS)
    return rewrite_rows(db, t.access_log, "id", read, SEALED_FIELDS, transform, batches)


def rewrite_disclosure_rows(db: Db, t: Tables, old: Cells, new: Cells, batches: Batches) -> int:
    def transform(row: Row) -> Sequence[Any] | None:
        ident, at, participant_id, recipient, tag = row
        if _done(new, tag):
            return None
        where = Where(DISCLOSURES, "recipient", row_at(str(participant_id), _moment(at)))
        plain = old.open(recipient, where)
        values = (new.seal(plain, where), new.tag(plain, "recipient"))
        return None if values == (recipient, tag) else (*values, ident)

    read = ("disclosed_at", "participant_id", "recipient", "recipient_tag")
    write = ("recipient", "recipient_tag")
    return rewrite_rows(db, t.disclosures, "id", read, write, transform, batches)


def rewrite_checkpoint_rows(db: Db, t: Tables, old: Cells, new: Cells, batches: Batches) -> int:
    def transform(row: Row) -> Sequence[Any] | None:
        tag, sealed_name = row
        if _done(new, tag):
            return None
        # Rows of the previous release have no sealed name: their name is the plain one.
        name = (
            tag if sealed_name is None else old.open(sealed_name, Where(CHECKPOINTS, "name", tag))
        )
        new_tag = new.tag(name, "checkpoint")
        values = (new_tag, new.seal(name, Where(CHECKPOINTS, "name", new_tag)))
        return None if values == row else (*values, tag)

    write = ("name", "sealed_name")
    return rewrite_rows(db, t.checkpoints, "name", ("sealed_name",), write, transform, batches)


def rewrite_receipt_rows(db: Db, t: Tables, old: Cells, new: Cells, batches: Batches) -> int:
    def transform(row: Row) -> Sequence[Any] | None:
        tag, fingerprint, response = row
        if not new.encrypted or _done(new, tag):
            return None  # a plain store keeps its receipts as they are
        if old.encrypted:
            key, fingerprint = json.loads(
                old.open(fingerprint, Where(RECEIPTS, "fingerprint", tag))
            )
            response = old.open(response, Where(RECEIPTS, "response", tag))
        else:
            key = tag
        return (*seal_receipt(new, (key, fingerprint, response)), tag)

    write = ("key", "fingerprint", "response")
    return rewrite_rows(db, t.idempotency, "key", write[1:], write, transform, batches)


def rewrite_view_rows(db: Db, t: Tables, old: Cells, new: Cells, batches: Batches) -> int:
    """The live views' rows (a rebuild's scratch tables are dropped, not rewritten)."""

    def transform(row: Row) -> Sequence[Any] | None:
        stored = ViewRow(*row)
        if not new.encrypted or _done(new, stored.state):
            return None
        opened = open_row(old, stored) if old.encrypted else stored
        sealed = seal_row(new, opened)
        return (sealed.program_id, sealed.status, sealed.level, sealed.state, stored.participant_id)

    with batches.transaction(db):
        exists = db.table_exists(t.views)
    if not exists:
        return 0
    columns = ("program_id", "status", "level", "state")
    return rewrite_rows(db, t.views, "participant_id", columns, columns, transform, batches)


def side_table_rewrites() -> Iterator[Callable[[Db, Tables, Cells, Cells, Batches], int]]:
    """Every side table's rewrite, in the order a rotation or the sealing migration runs them."""
    yield rewrite_access_log_rows
    yield rewrite_disclosure_rows
    yield rewrite_checkpoint_rows
    yield rewrite_receipt_rows
    yield rewrite_view_rows
