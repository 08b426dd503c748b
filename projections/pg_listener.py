"""Wakes a view runner on PostgreSQL NOTIFY from the event store's insert.

A wake-up only: the runner also polls, so a dropped connection or a lost NOTIFY delays a
view by at most one poll interval. The listener reconnects on its own (the library's runner
does not: a killed LISTEN connection leaves its subscription waiting for good, reported
upstream as github.com/pyeventsourcing/eventsourcing/issues/305).

With `lead(name)`, the listener's connection also holds a session advisory lock named after
the view it wakes, so that of the processes following one view (each `serve` worker runs a
runner), one folds and the others only serve reads. Every runner folding every write, the
losers' batches rolled back, was ~14% of a session write's time under load (py-spy,
docs/performance.md). The lock goes with its connection: a leader that dies or loses its
connection frees it, and the others try to take it once a second.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

import psycopg
import structlog
from psycopg import sql

RECONNECT_DELAY_SECONDS = 1.0
# How often a listener that does not hold its view's lease tries to take it.
LEASE_RETRY_SECONDS = 1.0

log = structlog.get_logger("projections.pg_listener")


class NotifyListener:
    def __init__(self, conninfo: str, channel: str, on_notify: Callable[[], None]) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self.on_notify = on_notify
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self._lease_key: int | None = None
        self._leading = threading.Event()
        self._next_try = 0.0
        self.reconnects = 0  # failed attempts since the connection was lost
        self.connections = 0  # connections made (more than one: it was lost and regained)

    def lead(self, name: str) -> None:
        """Contend for the lease of the view `name` (before `start`); see `leads`."""
        digest = hashlib.sha256(f"continuum-views:{self.channel}:{name}".encode()).digest()
        self._lease_key = int.from_bytes(digest[:8], "big", signed=True)

    def leads(self) -> bool:
        """True while this listener holds its view's lease (always, without `lead`), and
        while it is not connected: it cannot contend then, and its runner's polls must keep
        the view following (every runner folds, as without a lease; the commits stay exact)."""
        return self._lease_key is None or self._leading.is_set() or not self.connected.is_set()

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
                    self._next_try = 0.0
                    self._try_lead(conn)
                    # Catch up once per (re)connection: NOTIFYs sent while away are gone.
                    self.on_notify()
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.on_notify()
                        self._try_lead(conn)
            except psycopg.Error as error:
                self.connected.clear()
                self._leading.clear()  # the lock went with the connection
                if self.reconnects == 0 and not self._stopping.is_set():
                    # Once per outage: the views still follow by polling meanwhile.
                    log.warning("listen_lost", error_type=type(error).__qualname__)
                self.reconnects += 1
                self._stopping.wait(RECONNECT_DELAY_SECONDS)
        self._leading.clear()

    def _try_lead(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        if self._lease_key is None or self._leading.is_set():
            return
        # Not on every NOTIFY (one per write under load): once a second.
        if time.monotonic() < self._next_try:
            return
        self._next_try = time.monotonic() + LEASE_RETRY_SECONDS
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lease_key,)).fetchone()
        if row is not None and row[0] is True:
            self._leading.set()
            self.on_notify()  # the new leader folds what nobody folded meanwhile
