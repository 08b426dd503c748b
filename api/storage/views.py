"""Opens the participant views beside the event store and keeps them following the log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.application import ContinuumApplication
from projections.participant_view import ParticipantViewFold
from projections.pg_listener import NotifyListener
from projections.queries import ViewQueries
from projections.runner import ViewRunner
from projections.view_store import ViewStore

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


def follow_views(
    application: ContinuumApplication,
    view_store: ViewStore,
    listener: Callable[[Callable[[], None]], NotifyListener | None],
    partition: tuple[int, int] | None = None,
) -> Views:
    """The participant views in `view_store`, fed from the application's log.

    `listener` builds what wakes the runner on each commit (PostgreSQL's NOTIFY), or None
    where there is none; api.bootstrap chooses it with the backend. With `partition`
    (index, count) the runner keeps only that share of the participants.
    """
    runner = ViewRunner(
        application.recorder, application.mapper, view_store, ParticipantViewFold(),
        partition=partition,
    )  # fmt: skip
    queries = ViewQueries(runner.store, application.policy_timeline)
    return Views(runner.store, runner, queries, listener(runner.wake))


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
