"""Opens the participant views beside the event store and keeps them following the log."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.metrics import Lag, RunnerMetrics, tail_folded
from domain.application import ContinuumApplication
from projections.participant_view import ParticipantViewFold
from projections.pg_listener import NotifyListener
from projections.queries import ViewQueries
from projections.runner import ViewRunner
from projections.view_store import ViewStore

# A lost NOTIFY (or SQLite, which has none) delays a view by at most this long.
POLL_INTERVAL_SECONDS = 0.25
# How long a starting server catches up before it serves (the rest continues in the
# background): reads stay correct meanwhile (they fold a lagging row's tail themselves), and a
# process manager's start timeout is never spent on a backlog.
STARTUP_CATCH_UP_SECONDS = 5.0


@dataclass
class Views:
    store: ViewStore
    runner: ViewRunner
    queries: ViewQueries
    listener: NotifyListener | None = None

    def start(self, catch_up_seconds: float = STARTUP_CATCH_UP_SECONDS) -> None:
        """Catch up for at most `catch_up_seconds`, then follow the log in the background.

        A failure here (the store down, another worker's lock) is logged and retried by the
        background thread: it never stops the server from starting."""
        self.runner.attempt(POLL_INTERVAL_SECONDS, deadline=time.monotonic() + catch_up_seconds)
        self.runner.start(poll_interval=POLL_INTERVAL_SECONDS)
        if self.listener is not None:
            self.listener.start()

    def position_and_growth(self, stream_id: UUID, version: int) -> tuple[int, bool]:
        """The views' position, and whether the stream `stream_id` has events past `version`:
        in one round trip where the views live beside the events in PostgreSQL, else in two."""
        return self.store.position_and_growth(self.runner.recorder, stream_id, version)

    def lag(self) -> Lag:
        """How far the views are behind the log, read from the store now."""
        position = self.store.position()
        recorder = self.runner.recorder
        head = recorder.max_notification_id() or 0
        if head <= position:
            return Lag(position, head, 0.0)
        oldest = recorder.select_notifications(
            start=position, limit=1, inclusive_of_start=False
        )  # fmt: skip
        if not oldest:
            return Lag(position, head, 0.0)
        # The event's own timestamp (set when it was recorded): no contents are read.
        event: Any = self.runner.mapper.to_domain_event(oldest[0])
        age = (datetime.now(UTC) - event.timestamp).total_seconds()
        return Lag(position, head, max(age, 0.0))

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
    queries = ViewQueries(
        runner.store, application.policy_timeline, application.stream_tail, tail_folded
    )
    runner.observer = RunnerMetrics()
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
