"""The bench's server CPU per request: this process's own CPU, read from /proc."""

from __future__ import annotations

import os
import sys
import time

import pytest

from api.bench import server_cpu

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_cpu_seconds_grows_with_work_done() -> None:
    """Busy work in this process shows up in its CPU seconds; an unknown pid adds nothing."""
    before = server_cpu.cpu_seconds({os.getpid(), 2**22 + 1})
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    assert server_cpu.cpu_seconds({os.getpid()}) - before >= 0.1


def test_per_request_counts_the_warm_up_at_the_measured_rate() -> None:
    """1 s of CPU over 100 requests in 10 s plus a 1 s warm-up (~10 more): ~9.09 ms each."""
    load: dict[str, object] = {"requests": 100, "seconds": 10.0}
    assert server_cpu.per_request_ms({"cpu_seconds": 1.0}, load, 1.0) == pytest.approx(9.091)
    assert server_cpu.per_request_ms({"cpu_seconds": 1.0}, {"requests": 0}, 1.0) is None
