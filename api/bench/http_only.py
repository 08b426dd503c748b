"""The HTTP rows alone (docs/performance.md, item 6-7): a fresh PostgreSQL database, the seeded
participants, the ceilings and the real rows in interleaved rounds, the online rebuild beside
them; prints each row as a ratio to its ceiling and writes the HTTP report as JSON.

    scripts/bench-http [--rounds 2] [--seconds 15] [--output bench/http.json]

For iterating on the request paths without the full run's cohort and rebuilds; the full
`scripts/bench` runs the same `http_bench` after them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.bench.command_path import temporary_database
from api.bench.common import FULL, machine
from api.bench.http import CEILING_OF, ROWS, SHARE_OF, http_bench

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def summary(report: dict[str, Any]) -> str:
    lines = []
    for name in ROWS:
        if name not in report:  # the logged read ceiling runs on PostgreSQL only
            continue
        row = report[name]
        ratio = f" ({row['ratio']:.2f}x)" if name in CEILING_OF else ""
        p99 = f" ({row['p99_ratio']:.2f}x)" if name in CEILING_OF else ""
        rounds = ", ".join(
            f"{r['requests_per_s']:,.0f}/{r['p99_ms']:.0f} ms" for r in row.get("rounds", [])
        )
        cpu = row.get("server_cpu_ms_per_request")
        cpu_text = "" if cpu is None else f"server CPU {cpu:.2f} ms/req"
        if row.get("server_cpu_ratio") is not None:
            cpu_text += f" ({row['server_cpu_ratio']:.2f}x)"
        share = row.get(f"share_of_{SHARE_OF[name]}") if name in SHARE_OF else None
        if share is not None:
            cpu_text += f"; {share:.2f}x of the {SHARE_OF[name].replace('_', ' ')}"
        lines.append(
            f"{name:<20} {row['requests_per_s']:>8,.0f} req/s{ratio:<9} "
            f"p50 {row['p50_ms']:.1f} / p99 {row['p99_ms']:.1f} ms{p99:<9} {cpu_text:<30} "
            f"errors {row['errors']}  rounds: {rounds}"
        )
    online = report["online_rebuild"]
    lines.append(
        f"online rebuild: {online['rebuild_seconds']} s, {online['reads']} reads, "
        f"{online['errors']} failed, {online['stale_reads']} stale"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-http", description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", default=DEFAULT_SERVER)
    parser.add_argument("--rounds", type=int, default=FULL.read_rounds)
    parser.add_argument("--seconds", type=float, default=FULL.http_seconds)
    parser.add_argument("--output", type=Path, default=Path("bench") / "http.json")
    args = parser.parse_args(argv)
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    with (
        temporary_database(args.postgres_url) as (ceiling_url, _),
        temporary_database(args.postgres_url) as (app_url, _),
    ):
        report = http_bench(app_url, ceiling_url, args.seconds, FULL.timeline_events, args.rounds)
    print(summary(report))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    result = {"measured_at": measured_at, "machine": machine(), "http": report}
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
