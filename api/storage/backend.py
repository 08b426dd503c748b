"""The three places events can live, and how each one builds the tables kept beside the events.

A `Backend` is chosen once, by the composition root (api.bootstrap) from the store URL's scheme,
and handed to whatever builds a view store, an access log, a disclosure log, a NOTIFY listener
or the connection the schema migrations and key rotation use: nothing else asks a recorder
which database it talks to. Each log seals its cells with the `Cells` it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.conninfo import make_conninfo

from api.storage.access_log import AccessLog, MemoryAccessLog, PostgresAccessLog, SQLiteAccessLog
from api.storage.cells import Cells
from api.storage.disclosure_log import (
    DisclosureLog,
    MemoryDisclosureLog,
    PostgresDisclosureLog,
    SQLiteDisclosureLog,
)
from api.storage.schema import Db, PostgresDb, SQLiteDb, Tables, postgres_tables, sqlite_tables
from api.storage.store_url import Store
from projections.pg_listener import NotifyListener
from projections.postgres_views import PostgresViewStore
from projections.sqlite_views import SQLiteViewStore
from projections.view_store import MemoryViewStore, ViewStore

Wake = Callable[[], None]


@dataclass(frozen=True)
class Backend:
    """How one kind of store builds its side tables (each built empty if missing)."""

    kind: str  # "memory", "sqlite" or "postgres", as Store.kind
    view_store: Callable[[ApplicationRecorder, str], ViewStore]
    access_log: Callable[[ApplicationRecorder, Cells], AccessLog]
    disclosure_log: Callable[[ApplicationRecorder, Cells], DisclosureLog]
    # PostgreSQL wakes the views on each commit (LISTEN/NOTIFY); the others are polled only.
    notify_listener: Callable[[ApplicationRecorder, Store, Wake], NotifyListener | None]
    # The connection and table names migrations and rotation use; None: nothing at rest.
    db: Callable[[ApplicationRecorder], tuple[Db, Tables] | None]


def _no_listener(recorder: ApplicationRecorder, store: Store, wake: Wake) -> None:
    return None


MEMORY = Backend(
    kind="memory",
    view_store=lambda recorder, name: MemoryViewStore(name),
    access_log=lambda recorder, cells: MemoryAccessLog(),
    disclosure_log=lambda recorder, cells: MemoryDisclosureLog(),
    notify_listener=_no_listener,
    db=lambda recorder: None,
)


def _sqlite(recorder: ApplicationRecorder) -> SQLiteApplicationRecorder:
    # The root built this recorder from the same Store it chose this backend by.
    return cast(SQLiteApplicationRecorder, recorder)


SQLITE = Backend(
    kind="sqlite",
    view_store=lambda recorder, name: SQLiteViewStore(_sqlite(recorder).datastore, name),
    access_log=lambda recorder, cells: SQLiteAccessLog(_sqlite(recorder).datastore, cells),
    disclosure_log=lambda recorder, cells: SQLiteDisclosureLog(_sqlite(recorder).datastore, cells),
    notify_listener=_no_listener,
    db=lambda recorder: (SQLiteDb(_sqlite(recorder).datastore), sqlite_tables()),
)


def _postgres(recorder: ApplicationRecorder) -> PostgresApplicationRecorder:
    return cast(PostgresApplicationRecorder, recorder)


def _prefix(postgres: PostgresApplicationRecorder) -> str:
    # Named after the events table, so two applications in one schema keep separate logs.
    return postgres.events_table_name.removesuffix("_events")


def _postgres_access_log(recorder: ApplicationRecorder, cells: Cells) -> AccessLog:
    postgres = _postgres(recorder)
    return PostgresAccessLog(postgres.datastore, f"{_prefix(postgres)}_access_log", cells)


def _postgres_db(recorder: ApplicationRecorder) -> tuple[Db, Tables]:
    postgres = _postgres(recorder)
    tables = postgres_tables(postgres.datastore.schema, _prefix(postgres))
    return PostgresDb(postgres.datastore), tables


LISTEN_APPLICATION_NAME = "continuum-listen"


def _postgres_listener(recorder: ApplicationRecorder, store: Store, wake: Wake) -> NotifyListener:
    s = store.settings
    conninfo = make_conninfo(
        host=s["POSTGRES_HOST"],
        port=s["POSTGRES_PORT"],
        dbname=s["POSTGRES_DBNAME"],
        user=s["POSTGRES_USER"],
        password=s["POSTGRES_PASSWORD"],
        connect_timeout=s["POSTGRES_CONNECT_TIMEOUT"],
        # Names the connection in pg_stat_activity (an operator finds and checks it there).
        application_name=LISTEN_APPLICATION_NAME,
    )
    return NotifyListener(conninfo, _postgres(recorder).channel_name, wake)


POSTGRES = Backend(
    kind="postgres",
    view_store=lambda recorder, name: PostgresViewStore(_postgres(recorder).datastore, name),
    access_log=_postgres_access_log,
    disclosure_log=lambda recorder, cells: PostgresDisclosureLog(
        _postgres(recorder).datastore, cells
    ),
    notify_listener=_postgres_listener,
    db=_postgres_db,
)

BACKENDS = {backend.kind: backend for backend in (MEMORY, SQLITE, POSTGRES)}


def backend_of(store: Store) -> Backend:
    """The backend a parsed store URL names."""
    return BACKENDS[store.kind]
