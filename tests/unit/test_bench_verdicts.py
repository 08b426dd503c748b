"""The benchmark's verdicts: a measured value on the wrong side of its bound is "NOT met"."""

from __future__ import annotations

from typing import Any

import pytest

from api.bench.report import _meets, targets, targets_table


@pytest.mark.parametrize(
    ("value", "op", "bound", "met"),
    [(0.6, ">=", 0.6, True), (0.59, ">=", 0.6, False), (50, "<", 50, False),
     (49.9, "<", 50, True), (1.5, "<=", 1.5, True), (1.51, "<=", 1.5, False)],
)  # fmt: skip
def test_each_operator_judges_its_bound(value: float, op: str, bound: float, met: bool) -> None:
    assert _meets(value, op, bound) is met


def report(*, append_p99: float, timeline_p99: float) -> dict[str, Any]:
    """A PostgreSQL report that meets every target but the two given."""
    rate = {"ratio": 1.0, "p99_ratio": 1.0}
    return {
        "command_path": {"1_writers": rate, "4_writers": rate},
        "rebuild": {"ratio": 1.0, "peak_rss_mib": 100, "seconds": 1},
        "live": {"p99_ms": append_p99},
        "http": {
            "timeline_read": {**rate, "p99_ms": timeline_p99},
            "compliance_read": rate,
            "session_write": rate,
            "online_rebuild": {"errors": 0, "stale_reads": 0},
        },
        "rebuild_parallel": {"workers": 2, "speedup_over_1_worker": 2.0,
                             "same_digest_as_1_worker": True, "seconds": 1},
    }  # fmt: skip


def test_a_missed_target_is_reported_not_met() -> None:
    verdicts = {
        t["target"]: t["met"] for t in targets(report(append_p99=80, timeline_p99=10), False)
    }
    assert verdicts.pop("append->visible p99, ms") is False
    assert all(verdicts.values()), verdicts
    table = targets_table(targets(report(append_p99=10, timeline_p99=80), False))
    line = next(x for x in table.splitlines() if "timeline read p99" in x)
    assert line.endswith("NOT met")
    assert sum(x.endswith(" met") and not x.endswith("NOT met") for x in table.splitlines()) > 5
