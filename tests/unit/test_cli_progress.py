"""Progress off a terminal: plain lines at an interval, with the rate and time left."""

from __future__ import annotations

import io

from api.cli.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_progress_is_a_plain_line_per_interval_and_a_last_one() -> None:
    """Given output that is not a terminal and a 10 s interval, updates within the interval
    print nothing, one past it prints a line with the rate and ETA, and close prints the
    final position; no carriage return is ever written."""
    out, clock = io.StringIO(), Clock()
    progress = Progress("rebuild", out=out, plain_interval=10, clock=clock)

    clock.now += 5
    progress(500, 2000)
    assert out.getvalue() == ""
    clock.now += 5
    progress(1000, 2000)
    clock.now += 1
    progress(1100, 2000)
    clock.now += 9
    progress(2000, 2000)
    progress.close()

    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "rebuild: 1000/2000 events (50%), 100.00 events/s, ETA 00:10"
    assert lines[1].startswith("rebuild: 2000/2000 events (100%)")
    assert len(lines) == 3  # the interval's line, the last update past it, and close


def test_the_rate_counts_from_where_the_work_resumed() -> None:
    """A catch-up resumed at position 900 reports the rate of what it did, not of 900."""
    out, clock = io.StringIO(), Clock()
    progress = Progress("catch-up", initial=900, out=out, plain_interval=10, clock=clock)
    clock.now += 10
    progress(1000, 1000)
    assert "10.00 events/s" in out.getvalue()
