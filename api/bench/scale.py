"""The scale curve: one PostgreSQL store grown to 1M, 2M and 5M events, measured at each size.

    scripts/bench-scale [--sizes 1000000,2000000,5000000] [--output bench/scale.json]

At each size: a rebuild with 1 and with 2 workers (seconds, peak RSS, same digest), the
timeline read at 16 clients (the same 500-event participant at every size: reads should not
depend on the store's size) and append->visible at 50 writes/s. The cohort grows with
`continuum generate`'s realistic mix. Results are written after each size, so a run stopped
early keeps what it measured. Not run in CI: it takes tens of minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.bench.command_path import temporary_database
from api.bench.common import machine
from api.bench.http import CLIENTS, PROGRAM, SECRET, Loads, seed, server, use_wrk
from api.bench.live import append_to_visible
from api.bench.run import (
    EVENTS_PER_PARTICIPANT,
    GENERATE_TODAY,
    PARALLEL_WORKERS,
    rebuild_in_child,
)
from api.bootstrap import open_url
from api.security.tokens import Role, mint_token
from api.seed.generate import generate_cohort

DEFAULT_SIZES = (1_000_000, 2_000_000, 5_000_000)
DEFAULT_OUTPUT = Path("bench") / "scale.json"
TIMELINE_EVENTS = 500
READ_SECONDS = 10
LIVE_SECONDS, LIVE_RATE = 15, 50


def grow(store_url: str, target: int, seed: int) -> tuple[int, float]:
    """Generate participants (a new seed each call, so new ids) until the log holds `target`
    events; returns the events now stored and the seconds spent generating."""
    with open_url(store_url) as service:
        app = service.application
        have = app.recorder.max_notification_id() or 0
        started = time.monotonic()
        while have < target:
            participants = max(4, (target - have) // EVENTS_PER_PARTICIPANT)
            generate_cohort(
                app, participants=participants, weeks=16, seed=seed, today=GENERATE_TODAY
            )
            seed += 1000
            have = app.recorder.max_notification_id() or 0
        return have, time.monotonic() - started


def measure(store_url: str, events: int, timeline_path: str, token: str) -> dict[str, Any]:
    one = rebuild_in_child(store_url)
    two = rebuild_in_child(store_url, PARALLEL_WORKERS)
    with server(store_url) as base_url:
        read = Loads(base_url, token, READ_SECONDS, use_wrk()).get(timeline_path)
    live = append_to_visible(store_url, LIVE_SECONDS, LIVE_RATE)
    return {
        "events": events,
        "rebuild_seconds": round(one["seconds"], 1),
        "rebuild_events_per_s": round(events / one["seconds"]),
        "rebuild_peak_rss_mib": one["peak_rss_mib"],
        f"rebuild_{PARALLEL_WORKERS}_workers_seconds": round(two["seconds"], 1),
        f"rebuild_{PARALLEL_WORKERS}_workers_peak_rss_mib": two["peak_rss_mib"],
        "same_digest": one["digest"] == two["digest"],
        "timeline_read": read,
        "append_to_visible": asdict(live),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-scale", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=list(DEFAULT_SIZES),
        help="events at each step (default: 1M, 2M, 5M)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "clients": CLIENTS,
        "steps": [],
    }

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:7.1f} s] {message}", file=sys.stderr, flush=True)

    with temporary_database(args.postgres_url) as (store_url, version):
        results["server"] = f"PostgreSQL {version}"
        timeline_id, _ = seed(store_url, TIMELINE_EVENTS)
        token = mint_token(SECRET, role=Role.CLINICIAN, sub="bench-clinician", programs=[PROGRAM])
        path = f"/v1/participants/{timeline_id}/timeline"
        for step, target in enumerate(args.sizes):
            say(f"growing the log to {target:,} events")
            events, generated_in = grow(store_url, target, seed=100 + step)
            say(f"{events:,} events ({generated_in:.0f} s to generate); measuring")
            measured = measure(store_url, events, path, token)
            measured["generate_seconds"] = round(generated_in, 1)
            results["steps"].append(measured)
            results["seconds"] = round(time.monotonic() - started, 1)
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(results, indent=2) + "\n")
            say(json.dumps({k: v for k, v in measured.items() if k != "append_to_visible"}))
    print(f"wrote {args.output} ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
