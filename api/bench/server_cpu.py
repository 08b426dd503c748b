"""The CPU time a server's processes spent while a load ran, per request.

On a machine shared with other work, throughput and latency measure the contention as much as
the server; the server's own CPU per request does not depend on who else runs (the time the
kernel accounts to its processes), so it compares two request paths even on a busy machine.
The processes are those holding the server's listening socket (uvicorn's supervisor and its
workers), read from /proc; the database's backends are not counted (they are shared with
everything else on the server).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

_PID = re.compile(r"pid=(\d+)")


def listening_pids(port: int) -> set[int]:
    """The processes holding a listening socket on local `port`; empty without `ss`."""
    if shutil.which("ss") is None:
        return set()
    out = subprocess.run(
        ["ss", "-ltnpH", f"( sport = :{port} )"],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    return {int(pid) for pid in _PID.findall(out.stdout)}


def cpu_seconds(pids: set[int]) -> float:
    """User + system CPU seconds the processes have used so far (those still running)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5), fields 14 and 15)
    return total / ticks


@contextmanager
def measured(port: int) -> Iterator[dict[str, float]]:
    """`{"cpu_seconds": ...}` filled in when the block ends: the server's CPU during it."""
    pids = listening_pids(port)
    result: dict[str, float] = {}
    before = cpu_seconds(pids)
    try:
        yield result
    finally:
        result["cpu_seconds"] = cpu_seconds(pids) - before


def per_request_ms(cpu: dict[str, float], load: dict[str, object], warm_up: float) -> float | None:
    """CPU ms per request; the warm-up's requests (not counted by the load) are estimated at
    the measured rate."""
    requests, seconds = load.get("requests"), load.get("seconds")
    if not isinstance(requests, int) or not isinstance(seconds, int | float) or not requests:
        return None
    served = requests * (1 + warm_up / seconds)
    return round(cpu["cpu_seconds"] * 1000 / served, 3)
