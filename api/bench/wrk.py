"""HTTP load from wrk (C, epoll), when it is installed: `apt-get install wrk`.

The Python load generator (api/bench/load.py) spends ~1 ms of CPU per request parsing
responses, on the same two cores as the server, and its 16 threads queue for one GIL, which
shows up as server latency. wrk costs a few per cent of a core for the same load, so its
percentiles are the server's. `scripts/bench` uses wrk when it finds it and says which it used.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

THREADS = 2
WARM_UP_SECONDS = 1
SESSION_SPACING_SECONDS = 180
# Sessions a warm-up can write span at most this many days (1 s at < 4,800 requests/s).
WARM_UP_SESSION_DAYS = 10

# Each request `k` (counted across wrk's threads) writes a session to participant k mod N at
# base + k * SESSION_SPACING_SECONDS: no two requests in flight write to the same participant,
# and one participant's sessions (N * 3 minutes apart) never overlap.
SESSIONS_SCRIPT = """
local ids, base, count, thread_no, threads = {}, 0, 0, 0, %(threads)d
function setup(thread)
  thread:set("thread_no", thread_no)
  thread_no = thread_no + 1
end
function init(args)
  for id in string.gmatch(args[1], "[^,]+") do ids[#ids + 1] = id end
  base = tonumber(args[2])
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  local k = count * threads + thread_no
  count = count + 1
  local at = os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", base + k * %(spacing)d)
  local body = '{"service":"group","started_at":"' .. at ..
    '","duration_minutes":60,"attended":true}'
  return wrk.format(nil, "/v1/participants/" .. ids[(k %% #ids) + 1] .. "/sessions", nil, body)
end
"""

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def available() -> bool:
    return shutil.which("wrk") is not None


def parse(output: str, seconds: float, clients: int) -> dict[str, Any]:
    """The load generator's JSON shape (api/bench/load.py) from wrk's --latency output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rps is None or total is None:
        raise RuntimeError(f"unexpected wrk output: {output[-500:]}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return {
        "tool": "wrk",
        "clients": clients,
        "seconds": seconds,
        "requests": int(total.group(1)),
        "errors": errors,
        "requests_per_s": round(float(rps.group(1)), 1),
        "p50_ms": _percentile(output, "50%"),
        "p99_ms": _percentile(output, "99%"),
    }


def _percentile(output: str, label: str) -> float:
    found = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no {label} latency")
    return round(float(found.group(1)) * _UNITS_MS[found.group(2)], 2)


def _wrk(
    url: str,
    token: str,
    seconds: float,
    clients: int,
    script: Path | None = None,
    script_args: Sequence[str] = (),
) -> str:
    command = [
        "wrk", f"-t{THREADS}", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency",
        "-H", f"Authorization: Bearer {token}",
    ]  # fmt: skip
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    return subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout


def read_load(base_url: str, token: str, seconds: float, clients: int, path: str) -> dict[str, Any]:
    """GET `path` (a timeline, a compliance report) from `clients` connections."""
    url = f"{base_url}{path}"
    _wrk(url, token, WARM_UP_SECONDS, clients)
    return parse(_wrk(url, token, seconds, clients), seconds, clients)


def sessions_load(
    base_url: str,
    token: str,
    seconds: float,
    clients: int,
    participant_ids: Sequence[str],
    first_session: datetime,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="continuum-wrk-") as directory:
        script = Path(directory) / "sessions.lua"
        script.write_text(
            SESSIONS_SCRIPT % {"threads": THREADS, "spacing": SESSION_SPACING_SECONDS}
        )
        ids = ",".join(participant_ids)
        warm_up_base = int(first_session.timestamp())
        # Measured sessions start after every warm-up session's time, so none repeats one.
        measured_base = warm_up_base + WARM_UP_SESSION_DAYS * 24 * 3600

        def run(duration: float, base: int) -> str:
            return _wrk(base_url, token, duration, clients, script, (ids, str(base)))

        run(WARM_UP_SECONDS, warm_up_base)
        return parse(run(seconds, measured_base), seconds, clients)
