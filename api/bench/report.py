"""The benchmark's verdicts and printed tables: the performance targets (docs/performance.md)
checked against one run's figures, and the table of every measurement per backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from api.bench.common import WRITERS
from api.bench.http import CEILING_OF, ROWS, SHARE_OF

Report = dict[str, Any]


# ---- targets, table ---------------------------------------------------------------------------


def targets(pg: Report, full: bool) -> list[Report]:
    """The performance targets, checked against the PostgreSQL figures of this run."""
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

    def http_cell(name: str, figure: str, ratio_key: str) -> Callable[[Report], str]:
        """One HTTP measurement's `figure` (a format over its fields), then its ratio if any."""

        def cell(b: Report) -> str:
            found = b["http"].get(name)
            if found is None:  # the logged read ceiling runs on PostgreSQL only
                return "n/a"
            ratio = found.get(ratio_key)
            return figure.format(**found) + ("" if ratio is None else f" ({ratio:.2f}x)")

        return cell

    def http_split(name: str) -> Callable[[Report], str]:
        return lambda b: "/".join(
            map(str, b["http"].get(name, {}).get("connections_per_worker", []))
        )

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
        row(
            f"6 HTTP {label}, 16 clients: req/s{against}",
            http_cell(name, "{requests_per_s:,.0f} req/s", "ratio"),
        )
        row(
            f"6 HTTP {label}: p50 / p99",
            http_cell(name, "{p50_ms:.1f} / {p99_ms:.1f} ms", "p99_ratio"),
        )
        row(f"6 HTTP {label}: connections per worker", http_split(name))
        if name in SHARE_OF:
            of = SHARE_OF[name]
            row(
                f"6 HTTP {label}: req/s as a share of the {of.replace('_', ' ')}",
                http_cell(name, "{requests_per_s:,.0f} req/s", f"share_of_{of}"),
            )
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
