"""What read-your-writes costs a compliance read, and how far the views lag under write load.

- `read_your_writes_cost`: one participant with a long stream, the compliance read three ways
  in the same process and run: the stored row alone (the read before reads were made
  consistent), the consistent read when the row is current (the usual case: a version
  comparison), and when the row lags the stream by one event (the fold of that event on the
  read). Timeline reads are unchanged by it: they were already served from the stream.
- `LagScraper`: scrapes `/metrics` while a load runs and keeps the highest view lag seen and the
  lag once the load stopped, so the report shows the lag rising and falling.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from api.bootstrap import open_url
from api.seed.commands import admission, recorded_session

REPEATS = 300
SESSIONS = 200
_GAUGE = re.compile(r"^(continuum_view_lag_events|continuum_view_lag_seconds) (\S+)$", re.M)


def _timed(read: Callable[[], Any], repeats: int = REPEATS) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        read()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
    }


def read_your_writes_cost(store_url: str) -> dict[str, Any]:
    """Compliance read latency: the stored row alone vs the consistent read (row current, row
    one event behind), measured in one process on one participant of SESSIONS sessions."""
    now = datetime.now(UTC)
    admitted = now - timedelta(days=SESSIONS + 10)
    with open_url(store_url) as service:
        app, views = service.application, service.views
        recorded = app.execute(
            admission(admitted, program_id="bench-consistency", level="2.1"),
            recorded_by="bench", now=now,
        )  # fmt: skip
        pid = recorded.participant_id
        for day in range(SESSIONS):
            at = admitted + timedelta(days=day + 1, hours=1)
            app.execute(recorded_session(pid, at, 60), recorded_by="bench", now=now)
        views.runner.catch_up()
        version = app.get_participant(pid).version
        today, key = now.date(), str(pid)
        row_only = _timed(lambda: views.queries.compliance(key, today))
        current = _timed(lambda: views.queries.compliance(key, today, version))
        behind = _one_behind(app, views, pid, admitted, now)
    return {
        "participant_events": version,
        "repeats": REPEATS,
        "row_only_before": row_only,
        "consistent_row_current": current,
        "consistent_row_one_event_behind": behind,
        "p50_cost_ratio_row_current": round(current["p50_ms"] / row_only["p50_ms"], 3),
        "p50_cost_ratio_one_behind": round(behind["p50_ms"] / row_only["p50_ms"], 3),
    }


def _one_behind(app: Any, views: Any, pid: UUID, admitted: datetime, now: datetime) -> Any:
    at = admitted + timedelta(days=SESSIONS + 2, hours=1)
    version = app.execute(recorded_session(pid, at, 60), recorded_by="bench", now=now).version
    # The runner is not following: the stored row stays one event behind while measured.
    return _timed(lambda: views.queries.compliance(str(pid), now.date(), version))


class LagScraper:
    """Scrapes the views' lag from /metrics every `interval` seconds in a thread."""

    def __init__(self, base_url: str, interval: float = 0.1) -> None:
        self.base_url = base_url
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (lag events, lag seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-lag-scraper", daemon=True)

    def _scrape(self) -> tuple[float, float] | None:
        try:
            text = httpx.get(f"{self.base_url}/metrics", timeout=5).text
        except httpx.HTTPError:
            return None
        found = dict(_GAUGE.findall(text))
        if len(found) < 2:
            return None
        return float(found["continuum_view_lag_events"]), float(found["continuum_view_lag_seconds"])

    def _run(self) -> None:
        while not self._stop.is_set():
            sample = self._scrape()
            if sample is not None:
                self.samples.append(sample)
            self._stop.wait(self.interval)

    def __enter__(self) -> LagScraper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def settled(self, timeout: float = 10.0) -> tuple[float, float] | None:
        """The lag once the load stopped: scraped until it is 0 or `timeout` passes."""
        deadline = time.monotonic() + timeout
        sample = self._scrape()
        while sample is not None and sample[0] > 0 and time.monotonic() < deadline:
            time.sleep(self.interval)
            sample = self._scrape()
        return sample

    def report(self) -> dict[str, Any]:
        settled = self.settled()
        return {
            "scrapes": len(self.samples),
            "max_lag_events": max((s[0] for s in self.samples), default=None),
            "max_lag_seconds": max((s[1] for s in self.samples), default=None),
            "lag_events_after_load": None if settled is None else settled[0],
        }
