"""The bench's machine CPU counter: what an event cost every process, read from /proc/stat."""

import time
from collections.abc import Callable

import pytest

from api.bench.common import Timed, machine_busy_seconds, timed


def spin(seconds: float) -> int:
    until = time.process_time() + seconds
    loops = 0
    while time.process_time() < until:
        loops += 1
    return loops


@pytest.mark.skipif(machine_busy_seconds() is None, reason="no /proc/stat here")
def test_busy_seconds_count_the_cpu_this_process_burns() -> None:
    before = machine_busy_seconds()
    spin(0.3)
    after = machine_busy_seconds()
    assert before is not None and after is not None
    # Clock ticks are 10 ms; other processes only add to it.
    assert after - before >= 0.25


@pytest.mark.skipif(machine_busy_seconds() is None, reason="no /proc/stat here")
def test_timed_reports_cpu_per_event() -> None:
    def setup() -> Callable[[], int]:
        def run() -> int:
            spin(0.2)
            return 100

        return run

    result = timed(setup)
    assert result.count == 100
    assert result.busy_cpu_us_per_event is not None
    assert result.busy_cpu_us_per_event >= 0.15 * 1e6 / 100


def test_no_cpu_figure_without_a_reading() -> None:
    assert Timed(10, 1.0).busy_cpu_us_per_event is None
    assert Timed(0, 1.0, 0.5).busy_cpu_us_per_event is None
