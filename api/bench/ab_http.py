"""One HTTP row, served in turn by another checkout and by this one, on the same seeded store.

    python -m api.bench.ab_http OTHER_CHECKOUT timeline|compliance|write [--pairs N]
        [--seconds S] [--output F] [--postgres-url URL]

On this shared 2-core machine an HTTP row's throughput moves by a third between runs minutes
apart, more than most changes move it. So a change is measured against the code before it in
alternating pairs: each pair serves the row with OTHER_CHECKOUT (a working tree with its own
`.venv`: `git worktree add /tmp/before HEAD~1 && (source /tmp/before/scripts/_venv.sh)`),
then with this one, under the bench's load (wrk at 16 clients, else api/bench/load.py),
on one temporary PostgreSQL store seeded as the HTTP bench seeds it. Per load: throughput,
p99, the server's CPU per request (from /proc, api.bench.server_cpu), the machine's (all
processes: server, PostgreSQL, load generator) and the connections' split over the workers.
The medians of each side are printed last; compare CPU per request first, it moves least.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api.bench import wrk
from api.bench.command_path import temporary_database
from api.bench.common import machine_busy_seconds
from api.bench.http import (
    PROGRAM,
    PYTHON_WARM_UP_SECONDS,
    ROUND_DAYS,
    SECRET,
    Loads,
    _history_days,
    seed,
    server,
    use_wrk,
)  # fmt: skip
from api.security.tokens import Role, mint_token

TIMELINE_EVENTS = 500
SIDES = ("other", "this")


def load_once(
    base_url: str, token: str, row: str, seconds: float, target: str | list[str], start: datetime
) -> dict[str, Any]:
    """One measured load of `row` (after a warm-up), with the machine's CPU per request."""
    with_wrk = use_wrk()
    loads = Loads(base_url, token, seconds, with_wrk)
    warm_up = wrk.WARM_UP_SECONDS if with_wrk else PYTHON_WARM_UP_SECONDS
    busy = machine_busy_seconds()
    if row == "write":
        assert isinstance(target, list)
        result = loads.sessions(target, start)
    else:
        assert isinstance(target, str)
        result = loads.get(target)
    after = machine_busy_seconds()
    served = result.get("requests", 0) * (1 + warm_up / seconds)
    if busy is not None and after is not None and served:
        result["machine_cpu_ms_per_request"] = round((after - busy) * 1000 / served, 3)
    return result


def compare(store_url: str, other: Path, row: str, pairs: int, seconds: float) -> dict[str, Any]:
    timeline_id, writers = seed(store_url, TIMELINE_EVENTS)
    first = datetime.now(UTC) - timedelta(days=_history_days(TIMELINE_EVENTS) - 1)
    token = mint_token(SECRET, role=Role.CLINICIAN, sub="bench-clinician", programs=[PROGRAM])
    target: str | list[str] = (
        [str(w) for w in writers] if row == "write" else f"/v1/participants/{timeline_id}/{row}"
    )
    loads: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for pair in range(pairs):
        for turn, (side, checkout) in enumerate((("other", other), ("this", None))):
            # Each load's sessions lie after the last one's (its warm-up included).
            start = first + timedelta(days=ROUND_DAYS * (2 * pair + turn))
            with server(store_url, checkout=checkout) as base_url:
                if row != "write":  # the cached body and the prepared statements, as in use
                    load_once(base_url, token, row, 2.0, target, start)
                result = load_once(base_url, token, row, seconds, target, start)
            if result.get("errors"):
                raise RuntimeError(f"{side} answered {result['errors']} errors: the pair is void")
            loads[side].append(result)
            print(f"pair {pair} {side}: {_line(result)}", file=sys.stderr, flush=True)
    return {
        "row": row,
        "other": str(other),
        "pairs": pairs,
        "seconds": seconds,
        "loads": loads,
        "medians": {side: _medians(loads[side]) for side in SIDES},
    }


_FIELDS = (
    "requests_per_s",
    "p99_ms",
    "server_cpu_ms_per_request",
    "machine_cpu_ms_per_request",
)


def _medians(results: list[dict[str, Any]]) -> dict[str, float | None]:
    medians: dict[str, float | None] = {}
    for field in _FIELDS:
        values = [r[field] for r in results if isinstance(r.get(field), int | float)]
        medians[field] = round(statistics.median(values), 3) if values else None
    return medians


def _line(result: dict[str, Any]) -> str:
    shown = ", ".join(f"{field} {result.get(field)}" for field in _FIELDS)
    return f"{shown}, split {result.get('connections_per_worker')}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ab-http", description=__doc__.split("\n")[0])
    parser.add_argument("other", type=Path, help="another checkout, with its own .venv")
    parser.add_argument("row", choices=("timeline", "compliance", "write"))
    parser.add_argument("--pairs", type=int, choices=range(1, 21), default=4, metavar="1..20")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    if not 1.0 <= args.seconds <= 300.0:
        parser.error("--seconds: from 1 to 300")
    # Each load's sessions take ROUND_DAYS days after the last load's, inside the seeded
    # history: past its end they would lie in the future, which the API refuses (422).
    most_write_pairs = _history_days(TIMELINE_EVENTS) // (2 * ROUND_DAYS)
    if args.row == "write" and args.pairs > most_write_pairs:
        parser.error(f"--pairs: at most {most_write_pairs} for write (sessions in the past)")
    if not (args.other / ".venv" / "bin" / "python").exists():
        parser.error(f"{args.other} has no .venv/bin/python (source its scripts/_venv.sh)")
    with temporary_database(args.postgres_url) as (url, _):
        result = compare(url, args.other.resolve(), args.row, args.pairs, args.seconds)
    for side in SIDES:
        print(f"{side}: {result['medians'][side]}")
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
