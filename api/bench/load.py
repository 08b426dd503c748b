"""A small HTTP load generator, run as its own process: N client threads, one httpx client
each, for a fixed time; prints JSON (requests, errors, requests/s, p50/p99 in ms).

    python -m api.bench.load --base-url URL --token T --clients 16 --seconds 10 \\
        (--get PATH | --sessions ID,ID,... [--first-session ISO-TIME])
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from api.bench.live import percentile

WARM_UP_SECONDS = 0.5


def session_body(started_at: str) -> dict[str, object]:
    """The session every bench write records (api/bench/wrk.py's script writes the same)."""
    return {"service": "group", "started_at": started_at, "duration_minutes": 60, "attended": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-load")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--get", help="GET this path (a timeline, a compliance report)")
    target.add_argument("--sessions", help="POST sessions, client n to participant n (cycled)")
    parser.add_argument(
        "--first-session", type=datetime.fromisoformat, help="the first session's start time"
    )
    parser.add_argument(
        "--check-position", action="store_true",
        help="count stale reads: a body whose `position` is below one this client saw before",
    )  # fmt: skip
    args = parser.parse_args(argv)
    headers = {"Authorization": f"Bearer {args.token}"}
    sessions = args.sessions.split(",") if args.sessions else []
    latencies: list[list[float]] = [[] for _ in range(args.clients)]
    errors = [0] * args.clients
    stale = [0] * args.clients
    start = threading.Barrier(args.clients + 1)
    timing: dict[str, float] = {}

    def request_for(n: int) -> Callable[[httpx.Client, int], httpx.Response]:
        if args.get:
            path = args.get
            return lambda client, _i: client.get(path)
        participant = sessions[n % len(sessions)]
        base = args.first_session or datetime.now(UTC) - timedelta(days=300)

        def post(client: httpx.Client, i: int) -> httpx.Response:
            at = base + timedelta(minutes=i * 7 + n)
            return client.post(
                f"/v1/participants/{participant}/sessions", json=session_body(at.isoformat())
            )

        return post

    def client_loop(n: int) -> None:
        send = request_for(n)
        with httpx.Client(base_url=args.base_url, headers=headers, timeout=30) as client:
            send(client, 0)  # connect before the clock starts
            start.wait()
            i = 1
            seen = 0
            while (now := time.monotonic()) < timing["end"]:
                try:
                    response = send(client, i)
                except httpx.HTTPError:
                    errors[n] += 1
                    continue
                elapsed = time.monotonic() - now
                i += 1
                if response.status_code >= 400:
                    errors[n] += 1
                    continue
                if args.check_position:
                    position = response.json()["position"]
                    stale[n] += position < seen
                    seen = max(seen, position)
                if now >= timing["measure_from"]:
                    latencies[n].append(elapsed * 1000)

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    timing["measure_from"] = time.monotonic() + WARM_UP_SECONDS
    timing["end"] = timing["measure_from"] + args.seconds
    # SIGTERM ends the run early (the caller stops it when what it measures alongside ends).
    signal.signal(signal.SIGTERM, lambda *_: timing.update(end=0.0))
    start.wait()
    for thread in threads:
        thread.join()
    seconds = min(args.seconds, time.monotonic() - timing["measure_from"])
    flat = [x for per_client in latencies for x in per_client]
    print(json.dumps({
        "clients": args.clients, "seconds": round(seconds, 1), "requests": len(flat),
        "errors": sum(errors), "stale_reads": sum(stale),
        "requests_per_s": round(len(flat) / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": round(percentile(flat, 0.5), 2), "p99_ms": round(percentile(flat, 0.99), 2),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
