"""Rebuild rate of the participant views vs the bare read+decode rate, on SQLite and PostgreSQL.

Writes a synthetic log (participants x events each, interleaved as a live program's), then, on
the same store and in the same run, times (1) `select_notifications(500)` + `to_domain_event`
over the whole log: the read ceiling; (2) `continuum rebuild`'s path: drop the views and
replay from position 0. Prints a table and writes bench/rebuild.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg

from api.bench.command_path import add_store_arguments, temporary_database
from api.bootstrap import open_url
from api.cli.views import REBUILD_BATCH_SIZE
from api.seed.synthetic_log import write_log
from domain.application import ContinuumApplication

DEFAULT_OUTPUT = Path("bench") / "rebuild.json"
READ_BATCH = 500


@dataclass(frozen=True)
class RebuildResult:
    backend: str
    server: str
    events: int
    write_seconds: float
    read_seconds: float
    rebuild_seconds: float

    @property
    def read_per_s(self) -> float:
        return self.events / self.read_seconds

    @property
    def rebuild_per_s(self) -> float:
        return self.events / self.rebuild_seconds

    @property
    def ratio(self) -> float:
        return self.rebuild_per_s / self.read_per_s

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "read_decode_events_per_s": round(self.read_per_s),
            "rebuild_events_per_s": round(self.rebuild_per_s),
            "ratio": round(self.ratio, 3),
        }


def read_and_decode(app: ContinuumApplication) -> int:
    """Every notification read 500 at a time and decoded: the read ceiling."""
    position, count = 0, 0
    while True:
        batch = app.recorder.select_notifications(
            start=position, limit=READ_BATCH, inclusive_of_start=False
        )
        if not batch:
            return count
        for notification in batch:
            app.mapper.to_domain_event(notification)
        count += len(batch)
        position = batch[-1].id


def measure(backend: str, server: str, url: str, participants: int, events: int) -> RebuildResult:
    service = open_url(url)
    app = service.application
    try:
        started = time.perf_counter()
        written = write_log(app, participants=participants, events_per_participant=events)
        write_seconds = time.perf_counter() - started
        views = service.views
        views.runner.batch_size = REBUILD_BATCH_SIZE
        started = time.perf_counter()
        read = read_and_decode(app)
        read_seconds = time.perf_counter() - started
        started = time.perf_counter()
        views.runner.rebuild()
        rebuild_seconds = time.perf_counter() - started
    finally:
        app.close()
    assert read == written, (read, written)
    return RebuildResult(backend, server, written, write_seconds, read_seconds, rebuild_seconds)


def table(results: Sequence[RebuildResult]) -> str:
    header = f"{'backend':<9} {'events':>7} {'read+decode/s':>14} {'rebuild/s':>10} {'ratio':>6}"
    lines = [header, "-" * len(header)]
    lines += [
        f"{r.backend:<9} {r.events:>7} {r.read_per_s:>14,.0f} {r.rebuild_per_s:>10,.0f} "
        f"{r.ratio:>6.2f}"
        for r in results
    ]
    lines.append("ratio = rebuild events/s / bare select_notifications(500)+decode events/s")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench-rebuild", description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--events", type=int, default=500, help="events per participant")
    add_store_arguments(parser, DEFAULT_OUTPUT)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results: list[RebuildResult] = []
    with tempfile.TemporaryDirectory(prefix="continuum-bench-") as directory:
        path = (Path(directory) / "continuum.sqlite3").resolve()
        server = f"SQLite {sqlite3.sqlite_version}"
        results.append(
            measure("sqlite", server, f"sqlite:///{path}", args.participants, args.events)
        )
    if not args.no_postgres:
        try:
            with temporary_database(args.postgres_url) as (url, server_version):
                server = f"PostgreSQL {server_version}"
                results.append(measure("postgres", server, url, args.participants, args.events))
        except psycopg.OperationalError as error:
            print(f"PostgreSQL unavailable ({error}); use --no-postgres to skip", file=sys.stderr)
            return 1
    print(table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report(results, args), indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


def report(results: Sequence[RebuildResult], args: argparse.Namespace) -> dict[str, Any]:
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "eventsourcing": version("eventsourcing"),
        },
        "sizes": {"participants": args.participants, "events_per_participant": args.events},
        "rebuild_batch_size": REBUILD_BATCH_SIZE,
        "backends": {r.backend: r.to_dict() for r in results},
    }


if __name__ == "__main__":
    sys.exit(main())
