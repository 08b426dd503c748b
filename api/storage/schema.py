"""The project's own tables beside the events, as each schema version lays them out.

The events and snapshots tables are the library's; everything else the project keeps in the
store is declared here, once per backend, and created or changed only by the ordered migrations
(api.storage.migrations). `Db` is the little each migration needs of a connection: SQLite and
PostgreSQL statements differ in placeholders, quoting and a few types, not in shape.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from api.storage.privileges import postgres_guards, sqlite_guards
from projections.view_store import VIEW_NAME


@dataclass(frozen=True)
class Tables:
    """The physical names of the project's tables in one store (PostgreSQL's schema-qualified)."""

    events: str
    event_position: str  # the events' log-position column (SQLite's is the rowid)
    snapshots: str
    access_log: str
    disclosures: str
    checkpoints: str
    idempotency: str
    views: str  # the live view table (projections.view_store.VIEW_NAME)
    superseded_views: str  # the previous release's view table, dropped by version 3
    view_tracking: str
    schema_version: str
    rotation: str


class Db:
    """One store's connection for migrations and rotation: `?` placeholders, tuple rows."""

    kind: str

    def __init__(self, datastore: SQLiteDatastore | PostgresDatastore) -> None:
        self.datastore = datastore
        self._cursor: Any = None

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """One transaction of the store's own datastore; statements run on it until it ends."""
        with self.datastore.transaction(commit=True) as cursor:
            self._cursor = cursor
            try:
                yield self
            finally:
                self._cursor = None

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def table_exists(self, table: str) -> bool:
        raise NotImplementedError

    def suspend_guards(self, table: str) -> list[str]:
        """Lift the append-only triggers of `table` inside this transaction; what restores them."""
        raise NotImplementedError

    def restore_guards(self, table: str, restore: list[str]) -> None:
        for statement in restore:
            self.execute(statement)


class SQLiteDb(Db):
    kind = "sqlite"

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(statement, tuple(params))

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(statement, tuple(params))
        return [tuple(r) for r in self._cursor.fetchall()]

    def table_exists(self, table: str) -> bool:
        found = self.rows("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,))
        return bool(found)

    def suspend_guards(self, table: str) -> list[str]:
        # SQLite cannot disable a trigger: drop it inside the transaction and create it again
        # before the commit, so no other connection ever sees the table unguarded.
        triggers = self.rows(
            "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name=?", (table,)
        )
        for name, _ in triggers:
            self.execute(f'DROP TRIGGER "{name}"')
        return [sql for _, sql in triggers]


class PostgresDb(Db):
    kind = "postgres"

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        if not params:  # DDL: a function body's own `%` is not a placeholder
            self._cursor.execute(statement.encode())
            return
        self._cursor.execute(statement.replace("?", "%s").encode(), tuple(params))

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.execute(statement, params)
        return [tuple(r.values()) for r in self._cursor.fetchall()]

    def table_exists(self, table: str) -> bool:
        return self.rows("SELECT to_regclass(?) IS NOT NULL", (table,))[0][0] is True

    def suspend_guards(self, table: str) -> list[str]:
        # USER: every trigger on the table, whoever added it; re-enabled before the commit.
        self.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        return [f"ALTER TABLE {table} ENABLE TRIGGER USER"]


def sqlite_tables() -> Tables:
    return Tables(
        events="stored_events",
        event_position="rowid",
        snapshots="stored_snapshots",
        access_log="access_log",
        disclosures="disclosures",
        checkpoints="feed_checkpoints",
        idempotency="idempotency_keys",
        views=VIEW_NAME,
        superseded_views="participant_views",
        view_tracking="tracking",
        schema_version="continuum_schema_version",
        rotation="continuum_key_rotation",
    )


def postgres_tables(schema: str, prefix: str = "continuum") -> Tables:
    def q(name: str) -> str:
        return f'"{schema}"."{name}"'

    return Tables(
        events=q(f"{prefix}_events"),
        event_position="notification_id",
        snapshots=q(f"{prefix}_snapshots"),
        access_log=q(f"{prefix}_access_log"),
        disclosures=q("continuum_disclosures"),
        checkpoints=q("continuum_feed_checkpoints"),
        idempotency=q(f"{prefix}_idempotency"),
        views=q(f"continuum_{VIEW_NAME}"),
        superseded_views=q("continuum_participant_views"),
        view_tracking=q("continuum_view_tracking"),
        schema_version=q("continuum_schema_version"),
        rotation=q("continuum_key_rotation"),
    )


def bare(table: str) -> str:
    """A table's own name, without its schema or quotes (to name its indexes and triggers)."""
    return table.rsplit(".", 1)[-1].strip('"')


def idempotency_ddl(kind: str, table: str) -> str:
    """The receipts table (the recorders create it with the events too: see there)."""
    position = "INTEGER" if kind == "sqlite" else "bigint"
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
        f"response TEXT NOT NULL, position {position})"
    )


# ---- version 1: the tables as the previous release created them ----------------------------


def previous_release_sqlite(t: Tables) -> list[str]:
    """The previous release's DDL, verbatim in shape: adopting such a store changes nothing."""
    views = t.superseded_views
    statements = [
        f"CREATE TABLE IF NOT EXISTS {t.access_log} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "at TEXT NOT NULL, sub TEXT NOT NULL, role TEXT NOT NULL, "
        "participant_id TEXT NOT NULL, record TEXT NOT NULL, endpoint TEXT NOT NULL, "
        "purpose TEXT NOT NULL, request_id TEXT)",
        f"CREATE INDEX IF NOT EXISTS {t.access_log}_participant "
        f"ON {t.access_log} (participant_id, id)",
        f"CREATE TABLE IF NOT EXISTS {t.disclosures} ("
        "id INTEGER PRIMARY KEY AUTOINCREMENT, disclosed_at TEXT NOT NULL, "
        "recipient TEXT NOT NULL, participant_id TEXT NOT NULL, "
        "event_ids TEXT NOT NULL, channel TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {t.disclosures}_recipient ON {t.disclosures} (recipient, id)",
        f"CREATE INDEX IF NOT EXISTS {t.disclosures}_participant "
        f"ON {t.disclosures} (participant_id, id)",
        f"CREATE TABLE IF NOT EXISTS {t.checkpoints} ("
        "name TEXT PRIMARY KEY, position INTEGER NOT NULL)",
        idempotency_ddl("sqlite", t.idempotency),
        f"CREATE TABLE IF NOT EXISTS {views} ("
        "participant_id TEXT PRIMARY KEY, program_id TEXT NOT NULL, "
        "status TEXT NOT NULL, level TEXT, state TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {views}_program ON {views} (program_id, status)",
    ]
    for table, what in (
        (t.access_log, f"{t.access_log} is"),
        (t.disclosures, "the disclosure log is"),
    ):
        for operation in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} "
                f"BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{what} append-only'); END"
            )
    return statements


def previous_release_postgres(t: Tables) -> list[str]:
    views = t.superseded_views
    schema = t.access_log.rsplit(".", 1)[0]
    access, disclosures = bare(t.access_log), bare(t.disclosures)
    statements = [
        f"CREATE TABLE IF NOT EXISTS {t.access_log} (id bigserial PRIMARY KEY, "
        "at timestamptz NOT NULL, sub text NOT NULL, role text NOT NULL, "
        "participant_id uuid NOT NULL, record text NOT NULL, endpoint text NOT NULL, "
        "purpose text NOT NULL, request_id text)",
        f'CREATE INDEX IF NOT EXISTS "{access}_participant_idx" '
        f"ON {t.access_log} (participant_id, id)",
        f"CREATE TABLE IF NOT EXISTS {t.disclosures} ("
        "id bigserial PRIMARY KEY, disclosed_at timestamptz NOT NULL, "
        "recipient text NOT NULL, participant_id uuid NOT NULL, "
        "event_ids jsonb NOT NULL, channel text NOT NULL)",
        *(
            f'CREATE INDEX IF NOT EXISTS "{disclosures}_{column}" ON {t.disclosures} ({column}, id)'
            for column in ("recipient", "participant_id")
        ),
        f"CREATE TABLE IF NOT EXISTS {t.checkpoints} ("
        "name text PRIMARY KEY, position bigint NOT NULL)",
        idempotency_ddl("postgres", t.idempotency),
        f"CREATE TABLE IF NOT EXISTS {views} ("
        "participant_id text PRIMARY KEY, program_id text NOT NULL, "
        "status text NOT NULL, level text, state text NOT NULL)",
        # Rows are rewritten after every batch: the state uncompressed, so a commit does not
        # spend its time in pglz.
        f"ALTER TABLE {views} ALTER COLUMN state SET STORAGE EXTERNAL",
        f'CREATE INDEX IF NOT EXISTS "{bare(views)}_program" ON {views} (program_id, status)',
    ]
    for table, what in ((t.access_log, "the access log"), (t.disclosures, "the disclosure log")):
        function = f'{schema}."{bare(table)}_append_only"'
        statements += [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{what} is append-only'; END $$",
            f'CREATE OR REPLACE TRIGGER "{bare(table)}_append_only" BEFORE UPDATE OR DELETE '
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()",
        ]
    statements.append(
        f'CREATE OR REPLACE TRIGGER "{access}_no_truncate" BEFORE TRUNCATE ON {t.access_log} '
        f'FOR EACH STATEMENT EXECUTE FUNCTION {schema}."{access}_append_only"()'
    )
    return statements


# ---- version 3: guards only the owner's maintenance lifts --------------------------------


def append_only_guards(kind: str, t: Tables) -> list[str]:
    """UPDATE, DELETE (and on PostgreSQL TRUNCATE) guards of both logs (the event log's are
    created with it, by the recorders): the same trigger names as version 1's, replaced."""
    logs = ((t.access_log, "the access log"), (t.disclosures, "the disclosure log"))
    if kind == "sqlite":
        return [guard for table, what in logs for guard in sqlite_guards(table, what)]
    schema = bare(t.access_log.rsplit(".", 1)[0])
    return [
        guard.as_string(None) for table, _ in logs for guard in postgres_guards(schema, bare(table))
    ]


# ---- version 2: the sealed shapes ----------------------------------------------------------


def sealed_shapes(t: Tables) -> list[str]:
    """The disclosure log is looked up by recipient: by its tag (filled by the reseal step
    that follows), the recipient itself sealed; an index on ciphertext finds nothing. A
    checkpoint is looked up by its name's tag, and keeps the name sealed beside it."""
    schema = t.disclosures.rsplit(".", 1)[0] + "." if "." in t.disclosures else ""
    return [
        f"ALTER TABLE {t.checkpoints} ADD COLUMN sealed_name TEXT",
        f"ALTER TABLE {t.disclosures} ADD COLUMN recipient_tag TEXT",
        f'DROP INDEX IF EXISTS {schema}"{bare(t.disclosures)}_recipient"',
        f'CREATE INDEX IF NOT EXISTS "{bare(t.disclosures)}_recipient_tag" '
        f"ON {t.disclosures} (recipient_tag, id)",
    ]
