"""scripts/bench with tiny sizes, so every measurement keeps running (speeds are not checked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api.bench.run import main
from tests.integration.bench_support import existing, record_bench_databases

RATE_KEYS = {"events", "seconds", "events_per_s"}


def check_backend(result: dict[str, Any]) -> None:
    ceiling = result["ceiling"]
    for name in (
        "insert_commit_1_writers",
        "insert_commit_4_writers",
        "executemany_100_per_transaction",
        "select_notifications_500_and_decode",
    ):
        assert set(ceiling[name]) >= RATE_KEYS and ceiling[name]["events"] > 0, name
    # 4 writers: threads of one application, and 4 processes with one application each.
    for writers in ("1_writers", "4_writers", "4_writer_processes"):
        path = result["command_path"][writers]
        assert set(path) >= {*RATE_KEYS, "ratio"} and path["events"] > 0, writers
        # What each event cost the whole machine in CPU (Linux: /proc/stat).
        assert path["machine_cpu_us_per_event"] >= 0, writers
    assert result["bulk_import"]["participants"] > 0 and result["bulk_import"]["events"] > 0
    rebuild = result["rebuild"]
    assert rebuild["events"] == ceiling["select_notifications_500_and_decode"]["events"]
    assert rebuild["peak_rss_mib"] > 0 and "ratio" in rebuild
    live = result["live"]
    assert live["writes"] > 0 and live["unseen"] == 0 and live["p99_ms"] >= live["p50_ms"]
    for name in ("read_ceiling", "timeline_read", "compliance_read", "write_ceiling",
                 "session_write"):  # fmt: skip
        http = result["http"][name]
        # On a loaded machine a tiny window may complete no timed request: check shape only.
        assert set(http) >= {
            "requests", "requests_per_s", "p50_ms", "p99_ms", "connections_per_worker",
            "server_cpu_ms_per_request",
        }, name  # fmt: skip
        # The server's own CPU (its processes, from /proc) per request: None only if none ran.
        cpu = http["server_cpu_ms_per_request"]
        assert cpu is None or cpu > 0, name
        assert http["clients"] == 16 and http["errors"] == 0, name
    # Each row runs in rounds (two at tiny sizes), each kept beside the median one, and each
    # real row is given as a ratio to its ceiling measured in the same rounds.
    for name in ("timeline_read", "compliance_read", "session_write"):
        http = result["http"][name]
        assert len(http["rounds"]) == 2, name
        assert all(set(r) >= {"p99_ms", "connections_per_worker"} for r in http["rounds"])
        assert {"ratio", "p99_ratio"} <= set(http), name
    assert result["http"]["timeline_bytes"] > 0
    # The compliance read before and after read-your-writes, and the lag /metrics showed.
    ryw = result["read_your_writes"]
    for name in ("row_only_before", "consistent_row_current", "consistent_row_one_event_behind"):
        assert ryw[name]["p99_ms"] >= ryw[name]["p50_ms"] > 0, name
    lag = result["http"]["view_lag_during_session_writes"]
    assert lag["scrapes"] > 0 and lag["lag_events_after_load"] == 0, lag


def test_sqlite_run_writes_every_measurement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given --no-postgres and tiny sizes, when the bench runs, then it prints the table and
    writes results.json with all six measurements for SQLite."""
    output = tmp_path / "results.json"

    assert main(["--tiny", "--no-postgres", "--output", str(output)]) == 0

    assert "select_notifications(500) + decode" in capsys.readouterr().out
    report = json.loads(output.read_text())
    assert set(report) >= {"measured_at", "size", "sizes", "machine", "backends", "seconds"}
    assert list(report["backends"]) == ["sqlite"]
    check_backend(report["backends"]["sqlite"])


def test_postgres_run_checks_the_targets_and_drops_its_databases(
    postgres_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a PostgreSQL server, when the bench runs PostgreSQL only with tiny sizes, then
    results.json holds every measurement and a verdict per target, and no continuum_bench_
    database is left behind."""
    created = record_bench_databases(monkeypatch)
    output = tmp_path / "results.json"

    code = main(
        ["--tiny", "--no-sqlite", "--postgres-url", postgres_server, "--output", str(output)]
    )

    assert code == 0
    report = json.loads(output.read_text())
    check_backend(report["backends"]["postgres"])
    for writers in ("1_writers", "4_writers"):
        ordered = report["backends"]["postgres"]["ceiling"][f"ordered_append_{writers}"]
        assert set(ordered) >= {*RATE_KEYS, "ratio"} and ordered["events"] > 0, writers
    assert {t["target"] for t in report["targets"]} >= {"append->visible p99, ms"}
    assert all(isinstance(t["met"], bool) for t in report["targets"])
    assert created, "the run created no temporary database"
    assert existing(postgres_server, created) == []
