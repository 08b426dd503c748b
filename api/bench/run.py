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
from api.bench.http import CEILING_OF, ROWS, http_bench
from api.bench.live import append_to_visible
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

Report = dict[str, Any]


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


# ---- targets, table ---------------------------------------------------------------------------


def targets(pg: Report, full: bool) -> list[Report]:
    """Issue 8's targets, checked against the PostgreSQL figures of this run."""
    cp, rb, live, http = pg["command_path"], pg["rebuild"], pg["live"], pg["http"]
    ratio = "ratio to raw INSERT+COMMIT"
    rows = [
        (f"command path, 1 writer, {ratio}", ">=", 0.6, cp["1_writers"]["ratio"]),
        (f"command path, 4 writer threads, {ratio}", ">=", 0.6, cp["4_writers"]["ratio"]),
        ("rebuild, ratio to select+decode", ">=", 0.4, rb["ratio"]),
        ("rebuild peak RSS, MiB", "<", 1024, rb["peak_rss_mib"]),
        ("append->visible p99, ms", "<", 50, live["p99_ms"]),
        ("timeline read p99 at 16 clients, ms", "<", 50, http["timeline_read"]["p99_ms"]),
    ]
    for name, ceiling in CEILING_OF.items():
        label = name.replace("_", " ")
        rows.append((f"HTTP {label}, ratio to the {ceiling.replace('_', ' ')}", ">=", 0.6,
                     http[name]["ratio"]))  # fmt: skip
        rows.append((f"HTTP {label}, p99 ratio to the ceiling's p99", "<=", 1.5,
                     http[name]["p99_ratio"]))  # fmt: skip
    parallel = pg["rebuild_parallel"]
    rows.append((f"rebuild --workers {parallel['workers']}, speed-up over 1 worker", ">=", 1.5,
                 parallel["speedup_over_1_worker"]))  # fmt: skip
    rows.append(("rebuild --workers, same digest as 1 worker (1 = yes)", ">=", 1,
                 int(parallel["same_digest_as_1_worker"])))  # fmt: skip
    online = http["online_rebuild"]
    rows.append(("rebuild --online under 16 readers: failed + stale reads", "<=", 0,
                 online["errors"] + online["stale_reads"]))  # fmt: skip
    if full:
        rows.append(("rebuild of 1M events, seconds", "<", 60, rb["seconds"]))
        rows.append((f"rebuild of 1M events, --workers {parallel['workers']}, seconds", "<", 20,
                     parallel["seconds"]))  # fmt: skip
    return [
        {"target": name, "bound": f"{op} {bound:g}", "measured": value,
         "met": value is not None and _meets(value, op, bound)}
        for name, op, bound, value in rows
    ]  # fmt: skip


def _meets(value: float, op: str, bound: float) -> bool:
    return value >= bound if op == ">=" else value <= bound if op == "<=" else value < bound


def _fmt_rate(r: Report, with_ratio: bool = False) -> str:
    text = f"{r['events_per_s']:,} ev/s"
    if with_ratio and r.get("ratio") is not None:
        text += f" ({r['ratio']:.2f}x)"
    return text


def table(backends: dict[str, Report]) -> str:
    kinds = list(backends)
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell: Callable[[Report], str]) -> None:
        rows.append((label, [cell(backends[k]) for k in kinds]))

    def raw(w: int) -> Callable[[Report], str]:
        return lambda b: _fmt_rate(b["ceiling"][f"insert_commit_{w}_writers"])

    def commands(key: str) -> Callable[[Report], str]:
        return lambda b: _fmt_rate(b["command_path"][key], True)

    def ordered(w: int) -> Callable[[Report], str]:
        def cell(b: Report) -> str:
            found = b["ceiling"].get(f"ordered_append_{w}_writers")
            return _fmt_rate(found, True) if found else "n/a"

        return cell

    def cpu_per_event(b: Report) -> str:
        found = [
            b["ceiling"]["insert_commit_4_writers"].get("machine_cpu_us_per_event"),
            b["command_path"]["4_writers"].get("machine_cpu_us_per_event"),
            b["command_path"]["4_writer_processes"].get("machine_cpu_us_per_event"),
        ]
        return " / ".join("?" if us is None else f"{us:,}" for us in found) + " us"

    def http_rate(name: str) -> Callable[[Report], str]:
        def cell(b: Report) -> str:
            found = b["http"][name]
            ratio = f" ({found['ratio']:.2f}x)" if found.get("ratio") is not None else ""
            return f"{found['requests_per_s']:,.0f} req/s{ratio}"

        return cell

    def http_latency(name: str) -> Callable[[Report], str]:
        def cell(b: Report) -> str:
            found = b["http"][name]
            ratio = f" ({found['p99_ratio']:.2f}x)" if found.get("p99_ratio") is not None else ""
            return f"{found['p50_ms']:.1f} / {found['p99_ms']:.1f} ms{ratio}"

        return cell

    def http_split(name: str) -> Callable[[Report], str]:
        return lambda b: "/".join(map(str, b["http"][name].get("connections_per_worker", [])))

    for w in WRITERS:
        row(f"1 raw INSERT+COMMIT per event, {w} writer(s)", raw(w))
    for w in WRITERS:
        row(f"1 append function alone, {w} writer(s) (x raw)", ordered(w))
    row("1 raw executemany, 100/transaction",
        lambda b: _fmt_rate(b["ceiling"]["executemany_100_per_transaction"]))  # fmt: skip
    row("1 select_notifications(500) + decode",
        lambda b: _fmt_rate(b["ceiling"]["select_notifications_500_and_decode"]))  # fmt: skip
    row("2 command path, 1 writer (x raw, 1 writer)", commands("1_writers"))
    row("2 command path, 4 writer threads, one app (x raw, 4)", commands("4_writers"))
    row("2 command path, 4 writer processes (x raw, 4)", commands("4_writer_processes"))
    row("2 machine CPU/event: raw 4 w / 4 threads / 4 procs", cpu_per_event)
    row("3 bulk import (generate)", lambda b: _fmt_rate(b["bulk_import"]))
    row("4 rebuild from 0 (x select+decode)", lambda b: _fmt_rate(b["rebuild"], True))
    row("4 rebuild seconds / events",
        lambda b: f"{b['rebuild']['seconds']:.1f} s / {b['rebuild']['events']:,}")  # fmt: skip
    row("4 rebuild peak RSS", lambda b: f"{b['rebuild']['peak_rss_mib']:,.0f} MiB")
    row("4 rebuild --workers 2 (x select+decode)", lambda b: _fmt_rate(b["rebuild_parallel"], True))
    row(
        "4 rebuild --workers 2: seconds / x 1 worker / digest",
        lambda b: (
            f"{b['rebuild_parallel']['seconds']:.1f} s / "
            f"{b['rebuild_parallel']['speedup_over_1_worker']:.2f}x / "
            f"{'same' if b['rebuild_parallel']['same_digest_as_1_worker'] else 'DIFFERS'}"
        ),
    )
    row(
        "4 rebuild --online, 16 readers: s / reads / failed+stale",
        lambda b: (
            f"{b['http']['online_rebuild']['rebuild_seconds']:.0f} s / "
            f"{b['http']['online_rebuild']['reads']:,} / "
            f"{b['http']['online_rebuild']['errors'] + b['http']['online_rebuild']['stale_reads']}"
        ),
    )
    row("5 compliance read p50 / p99: row only (before)", _ryw("row_only_before"))
    row("5 ... consistent, row current / 1 event behind", _ryw_after)
    row("6 HTTP view lag during session writes: max / after", _lag)
    row("5 append->visible p50 / p99",
        lambda b: f"{b['live']['p50_ms']:.1f} / {b['live']['p99_ms']:.1f} ms")  # fmt: skip
    for name in ROWS:
        label = name.replace("_", " ")
        against = f" (x {CEILING_OF[name].replace('_', ' ')})" if name in CEILING_OF else ""
        row(f"6 HTTP {label}, 16 clients: req/s{against}", http_rate(name))
        row(f"6 HTTP {label}: p50 / p99", http_latency(name))
        row(f"6 HTTP {label}: connections per worker", http_split(name))
    width = max(len(label) for label, _ in rows)
    header = f"{'measurement':<{width}}  " + "  ".join(f"{k:>22}" for k in kinds)
    lines = [header, "-" * len(header)]
    lines += [f"{label:<{width}}  " + "  ".join(f"{c:>22}" for c in cells) for label, cells in rows]
    return "\n".join(lines)


def _ryw(name: str) -> Callable[[Report], str]:
    return lambda b: (
        f"{b['read_your_writes'][name]['p50_ms']:.2f} / "
        + (f"{b['read_your_writes'][name]['p99_ms']:.2f} ms")
    )


def _ryw_after(b: Report) -> str:
    return f"{_ryw('consistent_row_current')(b)}; {_ryw('consistent_row_one_event_behind')(b)}"


def _lag(b: Report) -> str:
    lag = b["http"]["view_lag_during_session_writes"]
    return f"{lag['max_lag_events']} ev {lag['max_lag_seconds']} s / {lag['lag_events_after_load']}"


def targets_table(rows: Sequence[Report]) -> str:
    lines = ["PostgreSQL targets (docs/performance.md):"]
    for r in rows:
        verdict = "met" if r["met"] else "NOT met"
        lines.append(f"  {r['target']:<60} {r['bound']:>8}  measured {r['measured']}  {verdict}")
    return "\n".join(lines)


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
