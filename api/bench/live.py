"""Append -> visible: how long after `save()` returns a write shows in the participant views
(the compliance view reads them), under a steady write load.

A writer thread records sessions at a steady rate; the views follow in live mode, exactly as
the server runs them: on PostgreSQL woken by LISTEN/NOTIFY (and polling), on SQLite, which has
no NOTIFY, woken by the writer as the server's write middleware does (and polling). The time
a write became visible is when the runner's transaction holding its position committed.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from api.bootstrap import open_url
from api.seed.commands import admission, recorded_session

WRITER_PARTICIPANTS = 20


@dataclass(frozen=True)
class Latency:
    mode: str
    writes: int
    rate: float  # writes per second achieved
    p50_ms: float
    p99_ms: float
    max_ms: float
    unseen: int  # writes not visible 5 s after the load stopped


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of `values` (share in 0..1)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def append_to_visible(store_url: str, seconds: float, rate: float) -> Latency:
    service = open_url(store_url)
    app = service.application
    views = service.views
    committed: list[tuple[int, float]] = []  # (position, when the view commit returned)
    commit = views.store.commit

    def commit_and_note(rows: Iterable[Any], position: int, start: int | None = None) -> None:
        commit(rows, position, start)
        committed.append((position, time.monotonic()))

    setattr(views.store, "commit", commit_and_note)  # noqa: B010 (a method, on purpose)
    wake_on_write = views.listener is None
    mode = "LISTEN/NOTIFY + poll" if not wake_on_write else "wake-on-write + poll (no NOTIFY)"
    now = datetime.now(UTC)
    admitted_at = now - timedelta(days=400)
    ids = [uuid4() for _ in range(WRITER_PARTICIPANTS)]
    for pid in ids:
        app.execute(
            admission(admitted_at, participant_id=pid, program_id="bench-live", level="2.1"),
            recorded_by="bench",
            now=now,
        )
    writes: list[tuple[int, float]] = []  # (position, when save() returned)
    try:
        views.start()
        time.sleep(0.3)  # the listener connects

        def writer() -> None:
            started = time.monotonic()
            n = 0
            while (due := started + n / rate) < started + seconds:
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                receipt = app.execute(
                    recorded_session(ids[n % len(ids)], admitted_at + timedelta(minutes=n + 1), 60),
                    recorded_by="bench",
                    now=datetime.now(UTC),
                )
                writes.append((receipt.position or 0, time.monotonic()))
                if wake_on_write:
                    views.runner.wake()
                n += 1

        thread = threading.Thread(target=writer, name="bench-writer")
        window_started = time.monotonic()
        thread.start()
        thread.join()
        window = time.monotonic() - window_started
        deadline = time.monotonic() + 5
        last = writes[-1][0] if writes else 0
        while time.monotonic() < deadline and not any(p >= last for p, _ in committed[-3:]):
            time.sleep(0.01)
    finally:
        views.stop()
        app.close()
    positions = [p for p, _ in committed]
    latencies, unseen = [], 0
    for position, written_at in writes:
        index = bisect_left(positions, position)
        if index < len(committed):
            latencies.append(max(0.0, committed[index][1] - written_at) * 1000)
        else:
            unseen += 1
    return Latency(
        mode=mode,
        writes=len(writes),
        rate=round(len(writes) / window if window else 0.0, 1),
        p50_ms=round(percentile(latencies, 0.5), 2),
        p99_ms=round(percentile(latencies, 0.99), 2),
        max_ms=round(max(latencies, default=0.0), 2),
        unseen=unseen,
    )
