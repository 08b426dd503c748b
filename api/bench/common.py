"""What every part of the bench shares: sizes, temporary stores, and timed worker processes."""

from __future__ import annotations

import multiprocessing
import os
import platform
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from api.bench.command_path import temporary_database


@dataclass(frozen=True)
class Sizes:
    raw_rows: int  # per ceiling measurement (split across writers)
    executemany_rows: int
    command_participants: int  # per writer configuration (split across writers)
    commands_per_participant: int  # after the admission
    cohort_events: int  # about this many generated events for import, read and rebuild
    cohort_weeks: int
    live_seconds: float
    live_rate: float  # writes per second during the latency measurement
    http_seconds: float
    timeline_events: int
    write_rounds: int  # interleaved rounds of the write ceilings and the command path
    read_rounds: int  # HTTP timeline read loads, each with fresh connections


FULL = Sizes(
    raw_rows=6000, executemany_rows=200_000, command_participants=400,
    commands_per_participant=9, cohort_events=1_000_000, cohort_weeks=16,
    live_seconds=30, live_rate=50, http_seconds=15, timeline_events=500, write_rounds=3,
    read_rounds=3,
)  # fmt: skip
QUICK = Sizes(
    raw_rows=800, executemany_rows=20_000, command_participants=60,
    commands_per_participant=6, cohort_events=50_000, cohort_weeks=16,
    live_seconds=6, live_rate=50, http_seconds=5, timeline_events=500, write_rounds=3,
    read_rounds=1,
)  # fmt: skip
# A tiny run for the smoke test: every measurement, no meaningful speed.
TINY = Sizes(
    raw_rows=40, executemany_rows=400, command_participants=8, commands_per_participant=2,
    cohort_events=600, cohort_weeks=6, live_seconds=1, live_rate=20, http_seconds=2,
    timeline_events=60, write_rounds=1, read_rounds=2,
)  # fmt: skip
WRITERS = (1, 4)


@dataclass(frozen=True)
class Backend:
    """One backend's stores for one run: a scratch store for the raw ceilings and the command
    path, and the application's store for the cohort, rebuild, live and HTTP parts."""

    kind: str  # "sqlite" or "postgres"
    server: str  # engine and version
    raw_url: str  # a psycopg conninfo URL, or a SQLite file path
    commands_url: str  # a store URL (api.storage.store_url)
    app_url: str  # a store URL


@contextmanager
def sqlite_backend() -> Iterator[Backend]:
    with tempfile.TemporaryDirectory(prefix="continuum-bench-") as directory:
        root = Path(directory).resolve()
        yield Backend(
            "sqlite",
            f"SQLite {sqlite3.sqlite_version}",
            str(root / "raw.sqlite3"),
            f"sqlite:///{root / 'commands.sqlite3'}",
            f"sqlite:///{root / 'continuum.sqlite3'}",
        )


@contextmanager
def postgres_backend(server_url: str) -> Iterator[Backend]:
    """Three fresh databases (raw, command path, application), dropped afterwards."""
    with (
        temporary_database(server_url) as (raw_url, server_version),
        temporary_database(server_url) as (commands_url, _),
        temporary_database(server_url) as (app_url, _),
    ):
        yield Backend("postgres", f"PostgreSQL {server_version}", raw_url, commands_url, app_url)


def split(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal whole parts."""
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


# ---- timed worker processes -------------------------------------------------------------------

# A worker: given its arguments, set up (connect, prepare rows) and return the timed part,
# which returns how many events it wrote or read.
Setup = Callable[..., Callable[[], int]]


@dataclass(frozen=True)
class Timed:
    count: int
    seconds: float
    # CPU time the whole machine spent (every process: writers, database, kernel) while the
    # timed part ran, where /proc/stat tells it: what each event cost, not just how fast.
    busy_cpu_seconds: float | None = None

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def busy_cpu_us_per_event(self) -> float | None:
        if self.busy_cpu_seconds is None or not self.count:
            return None
        return self.busy_cpu_seconds * 1e6 / self.count


def machine_busy_seconds() -> float | None:
    """CPU seconds all cores have spent not idle since boot (None where /proc/stat is not)."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(field) for field in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def _busy_since(before: float | None) -> float | None:
    after = machine_busy_seconds()
    return None if before is None or after is None else after - before


def _worker(setup: Setup, args: tuple[Any, ...], barrier: Any, results: Any) -> None:
    run = setup(*args)
    barrier.wait()
    started = time.monotonic()
    count = run()
    results.put((started, time.monotonic(), count))


def in_processes(setup: Setup, args: Sequence[tuple[Any, ...]]) -> Timed:
    """Run `setup(*a)` in one spawned process per `a`; time their timed parts together, from
    the first start to the last end (processes, not threads: the GIL would cap threads)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(args) + 1)  # and this process, to read the CPU counters
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(setup, a, barrier, results), daemon=True)
        for a in args
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=900)
    busy_at_start = machine_busy_seconds()
    outcomes = [results.get(timeout=900) for _ in processes]
    busy = _busy_since(busy_at_start)
    for process in processes:
        process.join(timeout=30)
        if process.exitcode not in (0, None):
            raise RuntimeError(f"a bench worker failed (exit {process.exitcode})")
    started = min(o[0] for o in outcomes)
    ended = max(o[1] for o in outcomes)
    return Timed(sum(o[2] for o in outcomes), ended - started, busy)


def timed(setup: Setup, *args: Any) -> Timed:
    """`setup(*args)` in this process, its timed part timed."""
    run = setup(*args)
    busy_at_start = machine_busy_seconds()
    started = time.monotonic()
    count = run()
    seconds = time.monotonic() - started
    return Timed(count, seconds, _busy_since(busy_at_start))


def machine() -> dict[str, Any]:
    memory_kib = 0
    try:
        with open("/proc/meminfo") as meminfo:
            memory_kib = int(meminfo.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "eventsourcing": version("eventsourcing"),
        "psycopg": version("psycopg"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return ""
