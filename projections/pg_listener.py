"""Wakes a view runner on PostgreSQL NOTIFY from the event store's insert.

A wake-up only: the runner also polls, so a dropped connection or a lost NOTIFY delays a
view by at most one poll interval. The listener reconnects on its own (the library's runner
does not: a killed LISTEN connection leaves its subscription waiting for good, reported
upstream as github.com/pyeventsourcing/eventsourcing/issues/305).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import structlog
from psycopg import sql

RECONNECT_DELAY_SECONDS = 1.0

log = structlog.get_logger("projections.pg_listener")


class NotifyListener:
    def __init__(self, conninfo: str, channel: str, on_notify: Callable[[], None]) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self.on_notify = on_notify
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self.reconnects = 0  # failed attempts since the connection was lost
        self.connections = 0  # connections made (more than one: it was lost and regained)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="continuum-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self.connected.set()
                    self.connections += 1
                    if self.reconnects:
                        log.info("listen_reconnected", attempts=self.reconnects)
                        self.reconnects = 0
                    # Catch up once per (re)connection: NOTIFYs sent while away are gone.
                    self.on_notify()
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.on_notify()
            except psycopg.Error as error:
                self.connected.clear()
                if self.reconnects == 0 and not self._stopping.is_set():
                    # Once per outage: the views still follow by polling meanwhile.
                    log.warning("listen_lost", error_type=type(error).__qualname__)
                self.reconnects += 1
                self._stopping.wait(RECONNECT_DELAY_SECONDS)
