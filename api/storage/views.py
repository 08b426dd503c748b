"""Opens the participant views beside the event store and keeps them following the log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.conninfo import make_conninfo
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.storage.store_url import Store
from domain.application import ContinuumApplication
from projections.participant_view import ParticipantViewFold
from projections.pg_listener import NotifyListener
from projections.postgres_views import PostgresViewStore
from projections.queries import ViewQueries
from projections.runner import ViewRunner
from projections.sqlite_views import SQLiteViewStore
from projections.view_store import VIEW_NAME, MemoryViewStore, ViewStore

# A lost NOTIFY (or SQLite, which has none) delays a view by at most this long.
POLL_INTERVAL_SECONDS = 0.25


@dataclass
class Views:
    store: ViewStore
    runner: ViewRunner
    queries: ViewQueries
    listener: NotifyListener | None = None

    def start(self) -> None:
        """Catch up, then follow new events in the background."""
        self.runner.catch_up()
        self.runner.start(poll_interval=POLL_INTERVAL_SECONDS)
        if self.listener is not None:
            self.listener.start()

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        self.runner.stop()


def open_view_store(
    app: ContinuumApplication, store: Store, view_name: str = VIEW_NAME
) -> ViewStore:
    """The view tables in the same database as the events (created if missing)."""
    recorder = app.recorder
    view_store: ViewStore
    if isinstance(recorder, PostgresApplicationRecorder):
        view_store = PostgresViewStore(recorder.datastore, view_name)
    elif isinstance(recorder, SQLiteApplicationRecorder):
        view_store = SQLiteViewStore(recorder.datastore, view_name)
    else:
        view_store = MemoryViewStore(view_name)
    view_store.create_tables()
    return view_store


def open_views(app: ContinuumApplication, store: Store, view_name: str = VIEW_NAME) -> Views:
    view_store = open_view_store(app, store, view_name)
    runner = ViewRunner(app.recorder, app.mapper, view_store, ParticipantViewFold())
    listener = None
    if isinstance(app.recorder, PostgresApplicationRecorder):
        listener = NotifyListener(_conninfo(store), app.recorder.channel_name, runner.wake)
    return Views(view_store, runner, ViewQueries(view_store, app.policy_timeline), listener)


def _conninfo(store: Store) -> str:
    s = store.settings
    return make_conninfo(
        host=s["POSTGRES_HOST"],
        port=s["POSTGRES_PORT"],
        dbname=s["POSTGRES_DBNAME"],
        user=s["POSTGRES_USER"],
        password=s["POSTGRES_PASSWORD"],
        connect_timeout=s["POSTGRES_CONNECT_TIMEOUT"],
    )


_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WakeViewsOnWrite:
    """ASGI middleware: after a successful write, wake the runner so views follow in ms.

    Polling would catch the write anyway; the wake-up only shortens the wait.
    """

    def __init__(self, app: ASGIApp, *, wake: Callable[[], None]) -> None:
        self.app = app
        self.wake = wake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        succeeded = False

        async def watch(message: Message) -> None:
            nonlocal succeeded
            if message["type"] == "http.response.start":
                succeeded = 200 <= message["status"] < 300
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if succeeded:
                self.wake()
