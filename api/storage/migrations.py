"""Versioned migrations of the project's own tables: one ordered list, one small runner.

`continuum_schema_version` holds one row per version applied (version, when). Opening a store
(api.bootstrap) runs every migration above the stored version, each in its own transaction
together with its version row, under a lock, so servers starting together apply each once and a
crash leaves the store at the last version that committed. A store migrated by a newer release
is refused rather than written with shapes this release does not know.

- 1 adopts the tables as the previous release created them (`CREATE ... IF NOT EXISTS`, the
  same shapes), so a store of that release and a new one are the same from here on;
- 2 moves to the sealed shapes (a recipient tag for the disclosure log, a sealed name for
  checkpoints) and, on a store with a cipher key, seals every side-table cell the previous
  release wrote in plain text (api.storage.reseal);
- 3 replaces the logs' guards with ones only the owner's maintenance transaction lifts
  (api.storage.privileges), adds the disclosure log's TRUNCATE guard, and drops the previous
  release's view table (views are rebuilt from the events under their new name).

A new shape is a new entry at the end of MIGRATIONS, never an edit of one already released.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from api.settings import SettingsError
from api.storage.cells import PLAIN, Cells
from api.storage.reseal import Batches, side_table_rewrites
from api.storage.schema import (
    Db,
    Tables,
    append_only_guards,
    previous_release_postgres,
    previous_release_sqlite,
    sealed_shapes,
)


class SchemaTooNew(SettingsError):
    """The store was migrated by a newer release than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    apply: Callable[[Db, Tables, Cells], None]


def _adopt_previous_release(db: Db, t: Tables, cells: Cells) -> None:
    ddl = previous_release_sqlite(t) if db.kind == "sqlite" else previous_release_postgres(t)
    for statement in ddl:
        db.execute(statement)


def _seal_side_tables(db: Db, t: Tables, cells: Cells) -> None:
    for statement in sealed_shapes(t):
        db.execute(statement)
    for rewrite in side_table_rewrites():
        rewrite(db, t, PLAIN, cells, Batches())  # all in this migration's one transaction


def _owner_guards_and_superseded_views(db: Db, t: Tables, cells: Cells) -> None:
    for statement in append_only_guards(db.kind, t):
        db.execute(statement)
    # The view state's shape changed with the compliance rules; views are derived data, so the
    # previous release's table is dropped and rebuilt from the events under its new name.
    db.execute(f"DROP TABLE IF EXISTS {t.superseded_views}")


MIGRATIONS = (
    Migration(1, "adopt the previous release's tables", _adopt_previous_release),
    Migration(2, "sealed shapes; seal the side tables' cells on a keyed store", _seal_side_tables),
    Migration(
        3,
        "append-only guards on both logs that only the owner's maintenance lifts (and a TRUNCATE "
        "guard on the disclosure log); drop the superseded view table",
        _owner_guards_and_superseded_views,
    ),
)
CURRENT_VERSION = MIGRATIONS[-1].version


def schema_version(db: Db, t: Tables) -> int:
    """The highest version applied (0 for a store no migration has touched)."""
    with db.transaction():
        if not db.table_exists(t.schema_version):
            return 0
        found = db.rows(f"SELECT MAX(version) FROM {t.schema_version}")
    return int(found[0][0] or 0)


def require_current_schema(db: Db, t: Tables) -> None:
    """For a role that may not migrate (the runtime role): refuse a store not yet migrated."""
    current = schema_version(db, t)
    _refuse_newer(current)
    if current < CURRENT_VERSION:
        raise SettingsError(
            f"the store's schema is at version {current}, this release needs {CURRENT_VERSION}: "
            "run `continuum db-setup` (as the owner) first"
        )


def migrate(db: Db, t: Tables, cells: Cells) -> list[int]:
    """Apply every migration above the store's version, in order; the versions applied."""
    current = schema_version(db, t)  # read only: opening an up-to-date store writes nothing
    _refuse_newer(current)
    if current == CURRENT_VERSION:
        return []
    with db.transaction():
        db.execute(_CREATE_VERSION_TABLE.format(table=t.schema_version))
    applied: list[int] = []
    for migration in MIGRATIONS:
        with db.transaction():
            current = _locked_version(db, t)
            _refuse_newer(current)
            if migration.version <= current:
                continue
            migration.apply(db, t, cells)
            db.execute(
                f"INSERT INTO {t.schema_version} (version, applied_at) VALUES (?, ?)",
                (migration.version, datetime.now(UTC).isoformat()),
            )
            applied.append(migration.version)
    return applied


_CREATE_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS {table} (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
)


def _refuse_newer(current: int) -> None:
    if current > CURRENT_VERSION:
        raise SchemaTooNew(
            f"the store's schema is version {current}, newer than this release's "
            f"{CURRENT_VERSION}: run the release that migrated it"
        )


def _locked_version(db: Db, t: Tables) -> int:
    """The version, read under the migrations' lock, held until the transaction ends."""
    if db.kind == "postgres":
        db.rows("SELECT pg_advisory_xact_lock(hashtext('continuum_schema_version'))")
    else:
        # A write first, so this deferred transaction takes SQLite's one write lock (waiting
        # for it) before it reads: two processes cannot both see the old version, and none
        # has to upgrade a read to a write, which SQLite refuses at once when another writes.
        db.execute(f"UPDATE {t.schema_version} SET version=version WHERE 0")
    found = db.rows(f"SELECT MAX(version) FROM {t.schema_version}")
    return int(found[0][0] or 0)
