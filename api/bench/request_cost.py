"""CPU and database round trips per request, through the whole app in one process (no network).

    python -m api.bench.request_cost timeline|compliance|write [--requests N]
        [--concurrency C] [--rounds R] [--round-trips] [--postgres-url URL]

Seeds a temporary PostgreSQL database as the HTTP bench does (api.bench.http.seed), opens the
app as `continuum serve` does (create_app and its lifespan, so the views run beside it) and
calls the ASGI app directly from C concurrent tasks on uvloop: no uvicorn, no sockets, no load
generator. Each round reports the process's CPU per request (`time.process_time`: every thread
of this process, the view runner and the access log's group commits included; PostgreSQL's
own CPU is not) and the wall time per request. With `--round-trips`, one more round runs with
libpq's trace on every pooled connection and reports round trips per request, by the
statements each one carried.

What it is for: comparing a change to the code before it on a shared machine, where an HTTP
load's throughput moves by a third between runs. Run it on both trees in turn, several times
(`--rounds`); the full `scripts/bench` run stays the figure of record for the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from psycopg import pq

from api.bench.command_path import temporary_database
from api.bench.http import PROGRAM, SECRET, _history_days, seed, server_settings
from api.bench.load import session_body
from api.security.tokens import Role, mint_token

ROWS = ("timeline", "compliance", "write")
TIMELINE_EVENTS = 500
# Requests before the first round: caches filled, statements prepared, pool connections open.
WARM_UP_REQUESTS = 200
# Each write request `k` records a session 3 minutes after request k-1's (as api.bench.wrk's
# script does), spread over the seeded writers so no two in flight share a participant.
SESSION_SPACING = timedelta(minutes=3)

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class Requests:
    """The row's requests, as raw ASGI calls with the bench's token."""

    def __init__(self, row: str, timeline_id: UUID, writers: list[UUID], first: datetime):
        self.row, self.timeline_id, self.writers, self.first = row, timeline_id, writers, first
        token = mint_token(SECRET, role=Role.CLINICIAN, sub="bench-clinician", programs=[PROGRAM])
        self.authorization = f"Bearer {token}".encode()
        self.sent = 0

    def next(self) -> tuple[str, str, bytes]:
        """(method, path, body) of the next request."""
        if self.row != "write":
            return "GET", f"/v1/participants/{self.timeline_id}/{self.row}", b""
        k, self.sent = self.sent, self.sent + 1
        started_at = (self.first + k * SESSION_SPACING).strftime("%Y-%m-%dT%H:%M:%SZ")
        path = f"/v1/participants/{self.writers[k % len(self.writers)]}/sessions"
        return "POST", path, json.dumps(session_body(started_at)).encode()

    async def one(self, app: Asgi) -> None:
        method, path, body = self.next()
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80), "state": {},
            "headers": [
                (b"host", b"bench"), (b"authorization", self.authorization),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }  # fmt: skip
        delivered = asyncio.Event()
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            if delivered.is_set():  # the body was read: nothing more until the client leaves
                await asyncio.Event().wait()
            delivered.set()
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        if not statuses or statuses[0] >= 300:
            raise RuntimeError(f"{method} {self.row} answered {statuses}: the measurement is void")


async def run(app: Asgi, requests: Requests, count: int, concurrency: int) -> None:
    """`count` requests from `concurrency` tasks, each sending its next when the last answered."""

    async def client(share: int) -> None:
        for _ in range(share):
            await requests.one(app)

    shares = [count // concurrency + (i < count % concurrency) for i in range(concurrency)]
    await asyncio.gather(*(client(share) for share in shares))


def round_trips(trace: str, prepared: dict[str, str] | None = None) -> Counter[str]:
    """Round trips in one connection's libpq trace, by the statements each carried.

    A round trip ends at the client's `Sync` (extended protocol) or is one `Query` (simple
    protocol). Prepared statements are named in `Parse` once and then bound by name
    (`prepared`: the names the connection had before the trace began); an unnamed
    statement's text comes with its own `Parse`."""
    names = {name: _short(text) for name, text in (prepared or {}).items()}
    carried: list[str] = []
    trips: Counter[str] = Counter()
    for line in trace.splitlines():
        if not line.startswith("F\t"):
            continue  # the server's messages
        message = line.split("\t", 2)[2]
        if message.startswith("Parse"):
            # The text is printed as it is, quotes included: it runs to the last quote.
            parsed = re.match(r'Parse\t "([^"]*)" "(.*)"', message)
            if parsed:
                name, text = parsed.groups()
                names[name] = _short(text)
                # A named Parse prepares the statement (a round trip of its own in psycopg).
                carried.append(names[name] if not name else f"(prepare) {names[name]}")
        elif message.startswith("Bind"):
            bound = re.match(r'Bind\t "[^"]*" "([^"]*)"', message)
            if bound and bound.group(1):
                carried.append(names.get(bound.group(1), f"(prepared before the trace) {bound[1]}"))
        elif message.startswith("Query"):
            trips[_short(message.split("\t", 1)[1].strip().strip('"'))] += 1
        elif message.startswith("Sync"):
            trips[" + ".join(dict.fromkeys(carried)) or "(sync alone)"] += 1
            carried = []
    return trips


def _short(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).replace('"public".', "")[:100]


@contextmanager
def traced(pools: Sequence[Any], also: Sequence[Any] = ()) -> Iterator[Counter[str]]:
    """libpq's trace on every connection the pools can hand out, and on the connections
    `also` (the read gate's), tallied on leaving."""
    tally: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="continuum-trace-") as directory, ExitStack() as held:
        connections = [
            held.enter_context(pool.connection()) for pool in pools for _ in range(pool.max_size)
        ]
        held.close()  # every connection opened, then given back: the pool hands them out
        connections += also
        files, prepared = [], []
        for i, conn in enumerate(connections):
            prepared.append(_prepared_names(conn))
            trace = (Path(directory) / f"{i}").open("wb")
            files.append(trace)
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield tally
        finally:
            for conn, trace in zip(connections, files, strict=True):
                conn.pgconn.untrace()
                trace.close()
            for trace, names in zip(files, prepared, strict=True):
                tally.update(round_trips(Path(trace.name).read_text(), names))


def _prepared_names(conn: Any) -> dict[str, str]:
    """The statements psycopg prepared on `conn`, by name (its private cache: a bench tool's
    label, nothing more; empty if psycopg keeps it elsewhere)."""
    cache = getattr(getattr(conn, "_prepared", None), "_names", {})
    return {name.decode(): key[0].decode() for key, name in cache.items()}


def measure(
    url: str, row: str, *, requests: int, concurrency: int, rounds: int, trips: bool
) -> dict[str, Any]:
    timeline_id, writers = seed(url, TIMELINE_EVENTS)
    first = datetime.now(UTC) - timedelta(days=_history_days(TIMELINE_EVENTS) - 1)
    os.environ.update(server_settings(url))
    from api.http.app import create_app  # reads the settings above

    app = create_app()
    calls = Requests(row, timeline_id, writers, first)
    result: dict[str, Any] = {"row": row, "requests": requests, "concurrency": concurrency}

    async def main() -> None:
        async with app.router.lifespan_context(app):
            await run(app, calls, WARM_UP_REQUESTS, concurrency)
            result["rounds"] = []
            for _ in range(rounds):
                cpu, wall = time.process_time(), time.perf_counter()
                await run(app, calls, requests, concurrency)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                result["rounds"].append({
                    "cpu_ms_per_request": round(1000 * cpu / requests, 3),
                    "wall_ms_per_request": round(1000 * wall / requests, 3),
                })  # fmt: skip
            if trips:
                gate = getattr(app.state, "read_gate", None)
                also = [gate.connection] if gate is not None and gate.connection else []
                with traced(_pools(app), also) as tally:
                    await run(app, calls, requests, concurrency)
                    await asyncio.sleep(0.5)  # the views' fold of the last writes
                result["round_trips_per_request"] = round(sum(tally.values()) / requests, 2)
                result["by_statement"] = {
                    text: round(count / requests, 3) for text, count in tally.most_common()
                }

    import uvloop  # uvicorn's loop, as `continuum serve` runs

    uvloop.run(main())
    return result


def _pools(app: Any) -> list[Any]:
    """The connection pools of the events' store and of the views' (one when they share)."""
    found = {}
    for datastore in (
        app.state.application.recorder.datastore,
        getattr(app.state.views.store, "datastore", None),
        getattr(app.state.access_log, "datastore", None),
    ):
        pool = getattr(datastore, "pool", None)
        if pool is not None:
            found[id(pool)] = pool
    if not found:
        raise RuntimeError("--round-trips needs a PostgreSQL store")
    return list(found.values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="request-cost", description=__doc__.split("\n")[0])
    parser.add_argument("row", choices=ROWS)
    parser.add_argument("--requests", type=_bounded(1, 1_000_000), default=3000)
    parser.add_argument("--concurrency", type=_bounded(1, 256), default=8)
    parser.add_argument("--rounds", type=_bounded(1, 100), default=3)
    parser.add_argument("--round-trips", action="store_true", help="trace one more round")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--output", type=Path, help="also write the result here (JSON)")
    args = parser.parse_args(argv)
    with temporary_database(args.postgres_url) as (url, _):
        result = measure(
            url, args.row, requests=args.requests, concurrency=args.concurrency,
            rounds=args.rounds, trips=args.round_trips,
        )  # fmt: skip
    # The app's log lines go to stdout too: --output is the clean copy.
    print(json.dumps(result, indent=2))
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return value

    return parse


if __name__ == "__main__":
    sys.exit(main())
