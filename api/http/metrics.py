"""Prometheus metrics: what each process counts, and what a scrape reads from the store.

Counters and histograms live in prometheus-client's registry; under `serve --workers N` the
server sets PROMETHEUS_MULTIPROC_DIR before the workers start, so every worker writes its
samples there and a scrape answered by any worker sums them all (the library's multiprocess
mode). The views' position, the log's head and the lag are read from the database at scrape
time, so they are the same whichever worker answers.

Labels carry route templates, status codes, event type names and failure kinds only: never
participant ids, paths, query strings or anything a caller typed.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_DURATION = Histogram(
    "continuum_http_request_duration_seconds",
    "Time from a request's arrival to its response's end, by route template and status",
    ["method", "route", "status"],
    # Reads answer in milliseconds; a write under contention or an outage's bounded retry
    # takes seconds (the upper buckets).
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_APPENDED = Counter(
    "continuum_events_appended_total", "Events stored by this service, by event type", ["type"]
)
STORE_ERRORS = Counter(
    "continuum_store_errors_total",
    "Requests answered 503 because the database did not answer in time",
)
ACCESS_LOG_FAILURES = Counter(
    "continuum_access_log_failures_total", "Reads refused because the access log write failed"
)
DISCLOSURE_LOG_FAILURES = Counter(
    "continuum_disclosure_log_failures_total",
    "Feed pages refused because the disclosure log write failed",
)
VIEW_FAILURES = Counter(
    "continuum_view_failures_total",
    "Failed catch-ups of the participant views (fold: an event the fold cannot apply)",
    ["kind"],
)
VIEW_STALLED = Gauge(
    "continuum_view_stalled",
    "1 while the views are stopped at an event the fold cannot apply",
    multiprocess_mode="livemax",
)
VIEW_EVENTS_APPLIED = Counter(
    "continuum_view_events_applied_total", "Log entries the view runners committed"
)
READ_TAIL_EVENTS = Counter(
    "continuum_view_read_tail_events_total",
    "Events a per-participant read folded itself because its view row lagged the stream",
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def forget_process_metrics() -> None:
    """On a worker's exit: drop its live gauges' samples (counters are kept and summed)."""
    if multiprocess():
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class RunnerMetrics:
    """A view runner's observer (projections.runner.RunnerObserver)."""

    def batch_committed(self, position: int, events: int) -> None:
        VIEW_EVENTS_APPLIED.inc(events)

    def failed(self, kind: str) -> None:
        VIEW_FAILURES.labels(kind).inc()

    def stalled(self, stalled: bool) -> None:
        VIEW_STALLED.set(1 if stalled else 0)


def tail_folded(events: int) -> None:
    if events:
        READ_TAIL_EVENTS.inc(events)


def appended(types: list[str]) -> None:
    for name in types:
        EVENTS_APPENDED.labels(name).inc()


@dataclass(frozen=True)
class Lag:
    view_position: int
    head_position: int
    # Seconds since the oldest event the views have not applied was recorded (0 when level).
    seconds: float

    @property
    def events(self) -> int:
        # Positions have gaps (a failed insert consumes one): an upper bound on events behind.
        return max(self.head_position - self.view_position, 0)


class LagCollector(Collector):
    """Reads the views' position and the log's head at each scrape."""

    def __init__(
        self, measure: Callable[[], Lag], relays: Callable[[], dict[str, int]] | None = None
    ) -> None:
        self.measure = measure
        self.relays = relays

    def collect(self) -> Iterator[Metric]:
        try:
            lag = self.measure()
        except Exception:  # a scrape during an outage still answers the counters
            return
        yield GaugeMetricFamily(
            "continuum_view_position", "Log position the views include", value=lag.view_position
        )
        yield GaugeMetricFamily(
            "continuum_log_head_position", "Position of the last stored event", lag.head_position
        )
        yield GaugeMetricFamily(
            "continuum_view_lag_events",
            "Log positions between the views and the head (an upper bound: positions have gaps)",
            value=lag.events,
        )
        yield GaugeMetricFamily(
            "continuum_view_lag_seconds",
            "Age of the oldest event the views have not applied (0 when they are level)",
            value=lag.seconds,
        )
        yield from self._relays(lag.head_position)

    def _relays(self, head: int) -> Iterator[Metric]:
        """Each feed consumer's checkpoint (a relay's name holds its stream and recipient
        integrator: no participant)."""
        try:
            positions = {} if self.relays is None else self.relays()
        except Exception:
            return
        position = GaugeMetricFamily(
            "continuum_relay_position", "Log position a relay has delivered", labels=["relay"]
        )
        lag = GaugeMetricFamily(
            "continuum_relay_lag_events", "Log positions a relay has yet to deliver",
            labels=["relay"],
        )  # fmt: skip
        for name, at in sorted(positions.items()):
            position.add_metric([name], at)
            lag.add_metric([name], max(head - at, 0))
        yield position
        yield lag


def exposition(live: Collector) -> tuple[bytes, str]:
    """The text a scrape gets: every process's counters and the live store gauges."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        counters = generate_latest(registry)
    else:
        counters = generate_latest(REGISTRY)
    store = CollectorRegistry()
    store.register(live)
    return counters + generate_latest(store), CONTENT_TYPE_LATEST


class Stopwatch:
    """Times one request into HTTP_DURATION."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def observe(self, method: str, route: str | None, status: int) -> None:
        # Unmatched paths share one label: a scanner's random paths must not create series.
        _duration(method, route or "unmatched", status).observe(time.perf_counter() - self.started)


@functools.lru_cache(maxsize=512)
def _duration(method: str, route: str, status: int) -> Histogram:
    """HTTP_DURATION's series for these labels, looked up once: `labels` takes a lock and
    builds the key on every call (~5% of a write's request-path samples on the event loop,
    py-spy over `profile_http write`). Bounded: an unknown method is the caller's text."""
    return HTTP_DURATION.labels(method, route, str(status))
