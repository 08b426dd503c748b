"""Progress of a long command on stderr: position, share, rate and time left.

On a terminal it is tqdm's redrawn bar. Anywhere else (a log file, a CI job, a pipe) a bar
redrawn with carriage returns turns into one unreadable line, so it becomes a plain line every
`plain_interval` seconds, with the same figures tqdm computes, and one last line at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

PLAIN_INTERVAL_SECONDS = 10.0
PLAIN_FORMAT = "{desc}: {n_fmt}/{total_fmt}{unit} ({percentage:.0f}%), {rate_fmt}, ETA {remaining}"


class Progress:
    """Call with (done, total) as work advances; `close()` prints the summary line."""

    def __init__(
        self,
        label: str,
        *,
        unit: str = "events",
        initial: int = 0,
        out: TextIO | None = None,
        plain_interval: float = PLAIN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.unit = unit
        self.out = out if out is not None else sys.stderr
        self.plain_interval = plain_interval
        self.clock = clock
        self.initial = initial
        self.done = initial
        self.total = 0
        self.started = clock()
        self.printed_at = self.started
        self._bar: tqdm | None = None
        if _is_terminal(self.out):
            self._bar = tqdm(
                desc=label,
                unit=f" {unit}",
                initial=initial,
                file=self.out,
                mininterval=0.2,
                dynamic_ncols=True,
                leave=True,
            )

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        if self._bar is not None:
            self._bar.total = total
            self._bar.update(done - self._bar.n)
            return
        now = self.clock()
        if now - self.printed_at >= self.plain_interval:
            self.printed_at = now
            self._line(now)

    def close(self) -> None:
        """The final line: where the work ended, and how long it took."""
        if self._bar is not None:
            self._bar.close()
            return
        self._line(self.clock())

    def _line(self, now: float) -> None:
        meter = tqdm.format_meter(
            self.done,
            max(self.total, self.done),
            now - self.started,
            prefix=self.label,
            unit=f" {self.unit}",
            bar_format=PLAIN_FORMAT,
            initial=self.initial,
        )
        self.out.write(f"{meter}\n")
        self.out.flush()


def _is_terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())
