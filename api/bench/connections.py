"""How the load generator's connections landed on the server's worker processes.

The workers share one listening socket, and each accepts whatever is waiting when its event loop
wakes: 16 connections opened at once often split 12/4, not 8/8. The clients keep their
connections, so the busier worker's requests queue longer for the whole run and set the p99.
The bench records the split it got beside the latencies, so a reader can tell that apart from
the server getting slower.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

_PID = re.compile(r"pid=(\d+)")


def per_process(ss_output: str) -> list[int]:
    """Connections per server process (largest first) from `ss -tnpH` lines."""
    counts = Counter(match.group(1) for match in map(_PID.search, ss_output.splitlines()) if match)
    return sorted(counts.values(), reverse=True)


def established(port: int) -> list[int]:
    """Established connections to local `port`, per process; [] where `ss` is not installed."""
    if shutil.which("ss") is None:
        return []
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    return per_process(out.stdout)


@contextmanager
def sampled_split(port: int, after_seconds: float) -> Iterator[list[int]]:
    """A list filled, `after_seconds` into the block, with the per-process connection split."""
    split: list[int] = []
    timer = threading.Timer(after_seconds, lambda: split.extend(established(port)))
    timer.start()
    try:
        yield split
    finally:
        timer.cancel()
        timer.join()
