"""Commands per second through ContinuumApplication, against each backend's raw write ceiling.

One run measures, on SQLite (temporary files) and on PostgreSQL (a temporary database, dropped
afterwards):

- the raw ceiling: one writer inserting event-shaped rows, one INSERT + COMMIT per row, with
  the driver alone (sqlite3 in WAL mode; psycopg);
- the command path: admit and record_session requests through the application, each a
  get + command + save, as the HTTP writes run them.

Prints a table (absolute rates and the ratio to the same backend's ceiling) and writes JSON.
Run it with scripts/bench-commands; `--quick` takes a few seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import psycopg
from psycopg import sql

from api.bootstrap import open_url
from api.seed.commands import admission, recorded_session
from domain.application import ContinuumApplication

DEFAULT_POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_OUTPUT = Path("bench") / "commands.json"
BENCH_DATABASE_PREFIX = "continuum_bench_"
STATE_BYTES = 300  # about a stored SessionAttended's JSON
EVENTS_PER_STREAM = 10  # raw rows are grouped into streams like a participant's


@dataclass(frozen=True)
class Sizes:
    raw_rows: int
    participants: int
    sessions_per_participant: int
    rounds: int


FULL = Sizes(raw_rows=6000, participants=300, sessions_per_participant=9, rounds=3)
QUICK = Sizes(raw_rows=600, participants=30, sessions_per_participant=4, rounds=2)


@dataclass(frozen=True)
class RawCeiling:
    rows: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.rows / self.seconds


@dataclass(frozen=True)
class CommandPath:
    commands: int
    events: int
    seconds: float

    @property
    def commands_per_s(self) -> float:
        return self.commands / self.seconds

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds


@dataclass(frozen=True)
class BackendResult:
    backend: str
    server: str  # the database engine's version
    raw: RawCeiling
    commands: CommandPath

    @property
    def ratio(self) -> float:
        """Events/s through the application as a share of the raw events/s ceiling."""
        return self.commands.events_per_s / self.raw.events_per_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "server": self.server,
            "raw_ceiling": {
                **asdict(self.raw),
                "seconds": round(self.raw.seconds, 3),
                "events_per_s": round(self.raw.events_per_s),
            },
            "command_path": {
                **asdict(self.commands),
                "seconds": round(self.commands.seconds, 3),
                "events_per_s": round(self.commands.events_per_s),
                "commands_per_s": round(self.commands.commands_per_s),
            },
            "ratio_to_raw": round(self.ratio, 3),
        }


# ---- raw ceilings -----------------------------------------------------------------------------


def event_rows(count: int) -> list[tuple[UUID, int, str, bytes]]:
    """`count` event-shaped rows, in streams of EVENTS_PER_STREAM versions each."""
    state = random.Random(0).randbytes(STATE_BYTES)
    topic = "continuum.Participant.SessionAttended.v1"
    rows, originator = [], uuid4()
    for n in range(count):
        if n % EVENTS_PER_STREAM == 0:
            originator = uuid4()
        rows.append((originator, n % EVENTS_PER_STREAM + 1, topic, state))
    return rows


class RawSQLite:
    """sqlite3 alone: WAL, autocommit, BEGIN/INSERT/COMMIT per row (as the library does)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE scratch_events (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )

    def write(self, count: int) -> float:
        rows = [(str(o), v, t, s) for o, v, t, s in event_rows(count)]
        started = time.perf_counter()
        for row in rows:
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO scratch_events VALUES (?, ?, ?, ?)", row)
            self.db.execute("COMMIT")
        return time.perf_counter() - started

    def close(self) -> None:
        self.db.close()


class RawPostgres:
    """psycopg alone, one connection: INSERT + COMMIT per row into a bigserial-keyed table."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url)
        self.conn.execute(
            "CREATE TABLE scratch_events (originator_id uuid NOT NULL, "
            "originator_version bigint NOT NULL, topic text, state bytea, "
            "notification_id bigserial UNIQUE, PRIMARY KEY (originator_id, originator_version))"
        )
        self.conn.commit()

    def write(self, count: int) -> float:
        rows = event_rows(count)
        started = time.perf_counter()
        for row in rows:
            self.conn.execute("INSERT INTO scratch_events VALUES (%s, %s, %s, %s)", row)
            self.conn.commit()
        return time.perf_counter() - started

    def close(self) -> None:
        self.conn.close()


class RawWriter(Protocol):
    def write(self, count: int) -> float: ...
    def close(self) -> None: ...


# ---- the command path -------------------------------------------------------------------------


def command_round(app: ContinuumApplication, participants: int, sessions: int) -> float:
    """Admit `participants` new ones, then record `sessions` rounds of one session each."""
    now = datetime.now(UTC)
    admitted_at = now - timedelta(days=sessions + 1)
    ids = [uuid4() for _ in range(participants)]
    requests: list[Callable[[], object]] = [_admit(app, pid, admitted_at, now) for pid in ids]
    for day in range(1, sessions + 1):
        started_at = admitted_at + timedelta(days=day)
        requests.extend(_session(app, pid, started_at, now) for pid in ids)
    started = time.perf_counter()
    for request in requests:
        request()
    return time.perf_counter() - started


def _admit(
    app: ContinuumApplication, pid: UUID, admitted_at: datetime, now: datetime
) -> Callable[[], object]:
    return lambda: app.execute(
        admission(admitted_at, participant_id=pid, program_id="bench-iop", level="2.1"),
        recorded_by="bench",
        now=now,
    )


def _session(
    app: ContinuumApplication, pid: UUID, started_at: datetime, now: datetime
) -> Callable[[], object]:
    return lambda: app.execute(
        recorded_session(pid, started_at, 180, modality="CBT", track="morning"),
        recorded_by="bench",
        now=now,
    )


def measure(raw: RawWriter, store_url: str, sizes: Sizes) -> tuple[RawCeiling, CommandPath]:
    """Both paths in alternating rounds, so background load on a shared machine hits both."""
    app = open_url(store_url).application
    raw_seconds = command_seconds = 0.0
    try:
        for round_ in range(sizes.rounds):
            raw_seconds += raw.write(_share(sizes.raw_rows, sizes.rounds, round_))
            command_seconds += command_round(
                app,
                _share(sizes.participants, sizes.rounds, round_),
                sizes.sessions_per_participant,
            )
    finally:
        app.close()
        raw.close()
    commands = sizes.participants * (1 + sizes.sessions_per_participant)
    events = sizes.participants * (2 + sizes.sessions_per_participant)  # admit = 2 events
    return RawCeiling(sizes.raw_rows, raw_seconds), CommandPath(commands, events, command_seconds)


def _share(total: int, parts: int, index: int) -> int:
    """Part `index` of `total` split into `parts` near-equal whole parts."""
    return total // parts + (1 if index < total % parts else 0)


# ---- backends ---------------------------------------------------------------------------------


def bench_sqlite(sizes: Sizes) -> BackendResult:
    with tempfile.TemporaryDirectory(prefix="continuum-bench-") as directory:
        raw = RawSQLite(Path(directory) / "raw.sqlite3")
        store = (Path(directory) / "continuum.sqlite3").resolve()
        ceiling, commands = measure(raw, f"sqlite:///{store}", sizes)
    return BackendResult("sqlite", f"SQLite {sqlite3.sqlite_version}", ceiling, commands)


def bench_postgres(server_url: str, sizes: Sizes) -> BackendResult:
    # Two fresh databases, so the raw rows and the application's share no table or index.
    with (
        temporary_database(server_url) as (raw_url, server_version),
        temporary_database(server_url) as (app_url, _),
    ):
        ceiling, commands = measure(RawPostgres(raw_url), app_url, sizes)
    return BackendResult("postgres", f"PostgreSQL {server_version}", ceiling, commands)


@contextmanager
def temporary_database(server_url: str) -> Iterator[tuple[str, str]]:
    """Create `continuum_bench_<hex>`; yield its URL and the server version; drop it after.

    Only ever drops the database it created.
    """
    name = BENCH_DATABASE_PREFIX + secrets.token_hex(6)
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        row = conn.execute("SHOW server_version").fetchone()
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}")), str(row and row[0])
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# ---- output -----------------------------------------------------------------------------------


def table(results: Sequence[BackendResult]) -> str:
    header = (
        f"{'backend':<9} {'path':<36} {'n':>6} {'seconds':>8} {'events/s':>9} "
        f"{'commands/s':>10} {'ratio':>6}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.backend:<9} {'raw INSERT+COMMIT per event, 1 writer':<36} {r.raw.rows:>6} "
            f"{r.raw.seconds:>8.2f} {r.raw.events_per_s:>9,.0f} {'':>10} {'1.00':>6}"
        )
        lines.append(
            f"{'':<9} {'admit/record_session: get+cmd+save':<36} {r.commands.commands:>6} "
            f"{r.commands.seconds:>8.2f} {r.commands.events_per_s:>9,.0f} "
            f"{r.commands.commands_per_s:>10,.0f} {r.ratio:>6.2f}"
        )
    lines.append("ratio = events/s through the application / the same backend's raw events/s")
    return "\n".join(lines)


def report(results: Sequence[BackendResult], sizes: Sizes) -> dict[str, Any]:
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "eventsourcing": version("eventsourcing"),
            "psycopg": version("psycopg"),
        },
        "sizes": asdict(sizes),
        "mix": "per round: admit the round's participants, then one record_session each per day",
        "backends": {r.backend: r.to_dict() for r in results},
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench-commands", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a few seconds")
    parser.add_argument("--raw-rows", type=int, help="rows for each raw ceiling")
    parser.add_argument("--participants", type=int, help="participants admitted")
    parser.add_argument("--sessions", type=int, help="sessions recorded per participant")
    parser.add_argument("--rounds", type=int, help="alternations of raw and command rounds")
    add_store_arguments(parser, DEFAULT_OUTPUT)
    return parser.parse_args(argv)


def add_store_arguments(parser: argparse.ArgumentParser, default_output: Path) -> None:
    """The options every bench shares: which PostgreSQL server, SQLite only, where results go."""
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CONTINUUM_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_SERVER),
        help="a server where the bench may CREATE DATABASE (env CONTINUUM_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--output", type=Path, default=default_output, help="JSON results file")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        raw_rows=args.raw_rows or base.raw_rows,
        participants=args.participants or base.participants,
        sessions_per_participant=args.sessions or base.sessions_per_participant,
        rounds=args.rounds or base.rounds,
    )
    results = [bench_sqlite(sizes)]
    if not args.no_postgres:
        try:
            results.append(bench_postgres(args.postgres_url, sizes))
        except psycopg.OperationalError as error:
            print(f"PostgreSQL unavailable ({error}); use --no-postgres to skip", file=sys.stderr)
            return 1
    print(table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report(results, sizes), indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
