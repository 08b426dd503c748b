"""Runs every measurement of the benchmark (docs/performance.md) on SQLite and PostgreSQL;
prints a table and writes bench/results.json. `scripts/bench` runs this; `--quick` is a small
run (under 3 minutes).

Rates are also given as ratios to a ceiling measured in the same run, on the same machine:
absolute figures on a shared machine drift, the ratios much less.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from api.bench.ceiling import (
    append_event_statement,
    ordered_append,
    raw_executemany,
    raw_insert_commit,
    select_and_decode,
)
from api.bench.command_path import add_store_arguments
from api.bench.commands import command_path
from api.bench.common import (
    FULL,
    QUICK,
    TINY,
    WRITERS,
    Backend,
    Sizes,
    Timed,
    machine,
    postgres_backend,
    sqlite_backend,
)
from api.bench.consistency import read_your_writes_cost
from api.bench.http import http_bench
from api.bench.live import append_to_visible
from api.bench.report import Report, table, targets, targets_table
from api.bootstrap import open_url
from api.seed.generate import generate_cohort

DEFAULT_OUTPUT = Path("bench") / "results.json"
# The command path's writer set-ups per number of writers: (rounds key, one process each?).
# Several writers are threads sharing one application, as a server process runs concurrent
# requests; with 4, four single-writer processes are measured beside them (see
# api.bench.commands).
COMMAND_PATHS = {
    1: [("command_path_1_writers", False)],
    4: [("command_path_4_writers", False), ("command_path_4_writer_processes", True)],
}
# Generated events per participant at 16 weeks (measured): sizes the cohort for a target.
EVENTS_PER_PARTICIPANT = 55
GENERATE_SEED = 8
# `continuum rebuild --workers N` is measured beside the one-worker rebuild with this N.
PARALLEL_WORKERS = 2
GENERATE_TODAY = date(2026, 3, 2)


def rate(t: Timed, ceiling: Timed | None = None, runs: Sequence[Timed] = ()) -> Report:
    out: Report = {
        "events": t.count,
        "seconds": round(t.seconds, 3),
        "events_per_s": round(t.per_s),
    }
    if t.busy_cpu_us_per_event is not None:
        out["machine_cpu_us_per_event"] = round(t.busy_cpu_us_per_event)
    if ceiling is not None:
        out["ratio"] = round(t.per_s / ceiling.per_s, 3) if ceiling.per_s else None
    if len(runs) > 1:
        out["rounds_events_per_s"] = [round(r.per_s) for r in runs]
    return out


def median(runs: Sequence[Timed]) -> Timed:
    return sorted(runs, key=lambda t: t.per_s)[len(runs) // 2]


def write_rounds(backend: Backend, sizes: Sizes) -> dict[str, list[Timed]]:
    """The write ceilings and the command path, measured in interleaved rounds.

    Each is a few seconds long on a shared machine, where one measurement can be off by tens
    of percent: the rounds put each ceiling right beside the path it is compared with, so
    drift hits both alike, and the report takes the median round of each.
    """
    kind = backend.kind
    rounds: dict[str, list[Timed]] = {}

    def add(name: str, measured: Timed) -> None:
        rounds.setdefault(name, []).append(measured)

    append_event = append_event_statement(backend.raw_url) if kind == "postgres" else b""
    for _ in range(sizes.write_rounds):
        for w in WRITERS:
            add(f"insert_commit_{w}", raw_insert_commit(kind, backend.raw_url, sizes.raw_rows, w))
            if kind == "postgres":
                ordered = ordered_append(append_event, backend.raw_url, sizes.raw_rows, w)
                add(f"ordered_append_{w}", ordered)
            for name, processes in COMMAND_PATHS[w]:
                add(
                    name,
                    command_path(
                        backend.commands_url, sizes.command_participants,
                        sizes.commands_per_participant, w, processes=processes,
                    ),
                )  # fmt: skip
    return rounds


def bench_backend(backend: Backend, sizes: Sizes, say: Callable[[str], None]) -> Report:
    kind = backend.kind
    report: Report = {"server": backend.server}

    say(f"{kind}: write ceilings and command path, {sizes.write_rounds} round(s)")
    rounds = write_rounds(backend, sizes)
    raw = {w: median(rounds[f"insert_commit_{w}"]) for w in WRITERS}
    many = raw_executemany(kind, backend.raw_url, sizes.executemany_rows)
    report["ceiling"] = {
        **{f"insert_commit_{w}_writers": rate(raw[w], runs=rounds[f"insert_commit_{w}"])
           for w in WRITERS},
        "executemany_100_per_transaction": rate(many),
        "writers_are": "processes (threads would share one GIL)",
    }  # fmt: skip
    if kind == "postgres":
        for w in WRITERS:
            runs = rounds[f"ordered_append_{w}"]
            report["ceiling"][f"ordered_append_{w}_writers"] = rate(median(runs), raw[w], runs)
    report["command_path"] = {
        "mix": "admit (2 events), then sessions and screenings 2:1; get + command + save each",
        "writers_are": "threads of one application (writer_processes: one application each)",
        **{name.removeprefix("command_path_"): rate(median(rounds[name]), raw[w], rounds[name])
           for w in WRITERS for name, _ in COMMAND_PATHS[w]},
    }  # fmt: skip

    say(f"{kind}: bulk import of a generated cohort")
    participants = max(4, sizes.cohort_events // EVENTS_PER_PARTICIPANT)
    app = open_url(backend.app_url).application
    try:
        generated = generate_cohort(
            app, participants=participants, weeks=sizes.cohort_weeks, seed=GENERATE_SEED,
            today=GENERATE_TODAY,
        )  # fmt: skip
    finally:
        app.close()
    report["bulk_import"] = {
        "participants": generated.participants,
        **rate(Timed(generated.events, generated.seconds)),
        "path": "continuum generate: aggregate commands, app.save() of many aggregates",
    }

    say(f"{kind}: select+decode and rebuild of {generated.events} events")
    read = select_and_decode(backend.app_url)
    report["ceiling"]["select_notifications_500_and_decode"] = rate(read)
    child = rebuild_in_child(backend.app_url)
    rebuilt = Timed(read.count, child["seconds"])
    report["rebuild"] = {
        **rate(rebuilt, read),
        "peak_rss_mib": child["peak_rss_mib"],
        "measured_in": "a child process (api.bench.rebuild_child): its own ru_maxrss",
    }
    say(f"{kind}: rebuild --workers {PARALLEL_WORKERS} of {generated.events} events")
    parallel = rebuild_in_child(backend.app_url, PARALLEL_WORKERS)
    report["rebuild_parallel"] = {
        "workers": PARALLEL_WORKERS,
        **rate(Timed(read.count, parallel["seconds"]), read),
        "speedup_over_1_worker": round(child["seconds"] / parallel["seconds"], 2),
        "same_digest_as_1_worker": parallel["digest"] == child["digest"],
        "peak_rss_mib": parallel["peak_rss_mib"],
    }

    say(f"{kind}: append -> visible under {sizes.live_rate:g} writes/s")
    report["live"] = asdict(append_to_visible(backend.app_url, sizes.live_seconds, sizes.live_rate))

    say(f"{kind}: compliance read cost of read-your-writes")
    report["read_your_writes"] = read_your_writes_cost(backend.app_url)
    say(f"{kind}: HTTP, 16 clients")
    report["http"] = http_bench(
        backend.app_url, backend.raw_url, sizes.http_seconds, sizes.timeline_events,
        sizes.read_rounds,
    )  # fmt: skip
    return report


def rebuild_in_child(store_url: str, workers: int = 1) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "api.bench.rebuild_child", store_url, str(workers)],
        capture_output=True, text=True, check=True, timeout=1800,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run, under 3 minutes")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # smoke test
    add_store_arguments(parser, DEFAULT_OUTPUT)
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = TINY if args.tiny else QUICK if args.quick else FULL
    size_name = "tiny" if args.tiny else "quick" if args.quick else "full"
    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": size_name,
        "sizes": asdict(sizes),
        "machine": machine(),
        "backends": {},
    }
    if not args.no_sqlite:
        with sqlite_backend() as backend:
            results["backends"]["sqlite"] = bench_backend(backend, sizes, say)
    if not args.no_postgres:
        try:
            with postgres_backend(args.postgres_url) as backend:
                results["backends"]["postgres"] = bench_backend(backend, sizes, say)
        except psycopg.OperationalError as error:
            print(f"PostgreSQL unavailable ({error}); --no-postgres skips it", file=sys.stderr)
            return 1
    results["seconds"] = round(time.monotonic() - started, 1)
    print(table(results["backends"]))
    if "postgres" in results["backends"]:
        results["targets"] = targets(results["backends"]["postgres"], full=size_name == "full")
        print()
        print(targets_table(results["targets"]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output} ({size_name} run, {results['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
