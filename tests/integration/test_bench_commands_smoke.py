"""scripts/bench-commands, run in-process with tiny sizes so it keeps working (speeds unchecked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.bench.command_path import main
from tests.integration.bench_support import existing, record_bench_databases

TINY = ["--raw-rows", "20", "--participants", "4", "--sessions", "2", "--rounds", "2"]


def check_backend(result: dict[str, object], backend: str) -> None:
    assert result["backend"] == backend
    raw, commands = result["raw_ceiling"], result["command_path"]
    assert isinstance(raw, dict) and isinstance(commands, dict)
    assert raw["rows"] == 20
    assert raw["events_per_s"] > 0
    # 4 participants: 4 admits (2 events each) + 4 x 2 sessions.
    assert (commands["commands"], commands["events"]) == (12, 16)
    assert commands["commands_per_s"] > 0
    assert isinstance(result["ratio_to_raw"], float) and result["ratio_to_raw"] > 0


def test_sqlite_only_run_prints_a_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given --no-postgres, when the bench runs, then it prints the SQLite rows of the table
    and writes JSON with the raw ceiling, the command path and their ratio."""
    output = tmp_path / "commands.json"

    assert main([*TINY, "--no-postgres", "--output", str(output)]) == 0

    printed = capsys.readouterr().out
    assert "raw INSERT+COMMIT per event" in printed and "sqlite" in printed
    report = json.loads(output.read_text())
    assert set(report) >= {"measured_at", "machine", "sizes", "backends"}
    assert list(report["backends"]) == ["sqlite"]
    check_backend(report["backends"]["sqlite"], "sqlite")


def test_postgres_run_measures_both_backends_and_drops_its_databases(
    postgres_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a PostgreSQL server, when the bench runs against it, then the JSON holds both
    backends, and no continuum_bench_ database is left behind."""
    created = record_bench_databases(monkeypatch)
    output = tmp_path / "commands.json"

    assert main([*TINY, "--postgres-url", postgres_server, "--output", str(output)]) == 0

    report = json.loads(output.read_text())
    assert list(report["backends"]) == ["sqlite", "postgres"]
    check_backend(report["backends"]["postgres"], "postgres")
    assert created, "the run created no temporary database"
    assert existing(postgres_server, created) == []


def test_unreachable_postgres_fails_rather_than_skipping(tmp_path: Path) -> None:
    """Given a PostgreSQL URL nothing answers on, the bench exits 1 and writes no JSON:
    a run that silently dropped half its measurements would mislead."""
    output = tmp_path / "commands.json"
    unreachable = "postgresql://postgres@127.0.0.1:1/postgres"

    assert main([*TINY, "--postgres-url", unreachable, "--output", str(output)]) == 1
    assert not output.exists()
