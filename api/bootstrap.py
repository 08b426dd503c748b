"""The composition root: settings in; the application, its logs, the feed and the views out.

Every entry point opens the store here (the server, each CLI command, the relay, the
generator, the benchmarks), so each one reads CONTINUUM_DATABASE_URL and CONTINUUM_CIPHER_KEY
the same way, picks the backend once, and refuses a store it cannot read before it does
anything else:

    with open_service(Settings.from_env()) as service:
        service.application, service.views, service.feed, service.access_log ...

Errors a caller can act on are raised as one-line messages naming the fix: `SettingsError`
(bad setting, wrong or missing cipher key) and `StoreUnavailable` (the database does not answer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from types import TracebackType

from eventsourcing.persistence import PersistenceError
from psycopg import Error as PsycopgError
from psycopg_pool import PoolTimeout

from api.feed.events import Feed
from api.settings import Settings
from api.storage.access_log import AccessLog
from api.storage.backend import Backend, backend_of
from api.storage.cipher import check_cipher
from api.storage.disclosure_log import DisclosureLog
from api.storage.privileges import ConnectedRole, connected_role
from api.storage.store_url import Store, parse_store_url
from api.storage.views import Views, follow_views
from domain.application import ContinuumApplication
from projections.pg_listener import NotifyListener
from projections.view_store import VIEW_NAME, ViewStore

DEFAULT_POOL_SIZE = 5


class StoreUnavailable(Exception):
    """The configured database did not answer: nothing was read or written."""


@dataclass
class Service:
    """One opened store and what is built beside it; each part is built on first use."""

    settings: Settings
    store: Store
    backend: Backend
    application: ContinuumApplication
    # The PostgreSQL role connected as (None on SQLite and in memory). A role that does not
    # own the tables (the runtime role, api.storage.privileges) creates and alters nothing.
    role: ConnectedRole | None = None

    @property
    def creates_tables(self) -> bool:
        return self.role is None or self.role.owns_tables

    @cached_property
    def access_log(self) -> AccessLog:
        log = self.backend.access_log(self.application.recorder)
        if self.creates_tables:
            log.create_table()
        return log

    @cached_property
    def disclosure_log(self) -> DisclosureLog:
        log = self.backend.disclosure_log(self.application.recorder)
        if self.creates_tables:
            log.create_tables()
        return log

    @cached_property
    def feed(self) -> Feed:
        return Feed(self.application, self.disclosure_log)

    @cached_property
    def views(self) -> Views:
        """The live participant views (tables created if missing), not yet following."""
        return self.open_views(VIEW_NAME)

    def view_store(self, view_name: str = VIEW_NAME) -> ViewStore:
        """The view tables named `view_name`, beside the events (created if missing)."""
        view_store = self.backend.view_store(self.application.recorder, view_name)
        if self.creates_tables:
            view_store.create_tables()
        return view_store

    def open_views(
        self, view_name: str = VIEW_NAME, *, partition: tuple[int, int] | None = None
    ) -> Views:
        """Views in the tables named `view_name`, fed from this store's log (only partition
        `(index, count)` of the participants, if given)."""

        def listener(wake: Callable[[], None]) -> NotifyListener | None:
            return self.backend.notify_listener(self.application.recorder, self.store, wake)

        return follow_views(self.application, self.view_store(view_name), listener, partition)

    def close(self) -> None:
        self.application.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def describe_store(settings: Settings) -> Store:
    """The store the settings name, parsed but not opened (what `serve` checks first)."""
    return parse_store_url(settings.database_url, cipher_key=settings.cipher_key)


def open_service(
    settings: Settings,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    aggregate_cache: bool = True,
) -> Service:
    """Open the store `settings` name, with its key, and check the key can read it.

    `aggregate_cache=False` reads every aggregate from its stored rows (what tamper checks
    need). Raises SettingsError (CipherMismatch for a key that cannot read the store) or
    StoreUnavailable.
    """
    store = parse_store_url(
        settings.database_url, pool_size=pool_size, cipher_key=settings.cipher_key
    )
    env = {**store.settings, "CONTINUUM_TIMEZONE": settings.timezone}
    if not aggregate_cache:
        env["AGGREGATE_CACHE_MAXSIZE"] = ""
    try:
        role = None
        if store.kind == "postgres":
            role = connected_role(store.settings)
            if not role.owns_tables:
                env = {**env, "CREATE_TABLE": "n"}  # the owner's migrations made them
        application = ContinuumApplication(env=env)
    except (PersistenceError, PsycopgError, PoolTimeout, OSError) as error:
        raise StoreUnavailable(_unavailable(store, error)) from None
    try:
        # A wrong CONTINUUM_CIPHER_KEY stops every entry point here, not at some later read.
        check_cipher(application, encrypted=store.encrypted)
    except BaseException:
        application.close()
        raise
    return Service(settings, store, backend_of(store), application, role)


def open_url(url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Service:
    """Open a store named by URL alone, without a cipher key (benchmarks and tools)."""
    return open_service(Settings(database_url=url), pool_size=pool_size)


def with_database_url(settings: Settings, url: str | None) -> Settings:
    """`settings` pointed at `url` instead, when one is given (e.g. a --database-url option)."""
    return replace(settings, database_url=url) if url else settings


def _unavailable(store: Store, error: BaseException) -> str:
    # The class name only: driver messages can quote the connection string's password.
    if store.kind == "postgres":
        return (
            f"cannot reach PostgreSQL at {store.display} ({type(error).__name__}): is the server "
            "running and CONTINUUM_DATABASE_URL right?"
        )
    return (
        f"cannot open the store at {store.display} ({type(error).__name__}): check "
        "CONTINUUM_DATABASE_URL and that its directory is writable"
    )
