"""The two tools for measuring a change (api.bench.request_cost, api.bench.ab_http), run tiny so
they keep working (their figures are not checked, only that they are measured)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def test_request_cost_reports_cpu_and_the_statements_of_each_round_trip(
    postgres_server: str, tmp_path: Path
) -> None:
    """Given a PostgreSQL server, when timeline reads are measured in one process with their
    round trips traced, then each round has a CPU figure, and the access entry's statement is
    among them (every record read is logged before it is served)."""
    output = tmp_path / "cost.json"

    subprocess.run(
        [sys.executable, "-m", "api.bench.request_cost", "timeline", "--requests", "40",
         "--rounds", "2", "--round-trips", "--postgres-url", postgres_server,
         "--output", str(output)],
        cwd=REPOSITORY, check=True, capture_output=True, timeout=240,
    )  # fmt: skip

    result = json.loads(output.read_text())
    assert result["row"] == "timeline" and len(result["rounds"]) == 2
    assert all(r["cpu_ms_per_request"] > 0 for r in result["rounds"])
    assert result["round_trips_per_request"] > 0
    # The entry goes in the read gate's statement (api.storage.read_gate: "WITH wanted AS ...
    # INSERT INTO <access_log>", cut to 100 characters here) once the participant is cached,
    # else in the access log's own INSERT.
    assert any((text.startswith("INSERT INTO") and "access_log" in text)
               or text.startswith("WITH wanted AS") for text in result["by_statement"])  # fmt: skip


def test_ab_http_serves_one_store_with_each_checkout_in_turn(
    postgres_server: str, tmp_path: Path
) -> None:
    """Given this checkout as the "other" one too, when one pair of timeline loads runs, then
    each side has its load's throughput and CPU figures."""
    if not (REPOSITORY / ".venv" / "bin" / "python").exists():
        pytest.skip("the checkout has no .venv (scripts/test makes it)")
    output = tmp_path / "ab.json"

    completed = subprocess.run(
        [sys.executable, "-m", "api.bench.ab_http", str(REPOSITORY), "timeline", "--pairs", "1",
         "--seconds", "1", "--postgres-url", postgres_server, "--output", str(output)],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(output.read_text())
    for side in ("other", "this"):
        [load] = result["loads"][side]
        assert load["requests"] > 0 and load["errors"] == 0, side
        assert result["medians"][side]["server_cpu_ms_per_request"] > 0, side
