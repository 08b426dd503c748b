"""Where a request's time goes: py-spy over a real `continuum serve` under the bench's load.

    python -m api.bench.profile_http write|timeline|compliance [--seconds 10] [--output F]

Seeds a temporary PostgreSQL database as the HTTP bench does (api.bench.http.seed), serves it
with the bench's settings, warms the route, then records `py-spy record --subprocesses --gil`
(samples only where a thread holds the GIL: the Python CPU each frame costs) of the server
while wrk runs the row's load. Writes py-spy's raw (collapsed) stacks to `--output`; any flame
graph tool reads them. Needs wrk and py-spy (`pip install py-spy`; not a dependency).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.bench import wrk
from api.bench.command_path import temporary_database
from api.bench.http import (
    CLIENTS,
    PROGRAM,
    ROUND_DAYS,
    SECRET,
    _history_days,
    seed,
    server,
)  # fmt: skip
from api.bench.server_cpu import listening_pids
from api.security.tokens import Role, mint_token

TIMELINE_EVENTS = 500
WARM_UP_SECONDS = 3.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="profile-http", description=__doc__.split("\n")[0])
    parser.add_argument("row", choices=("write", "timeline", "compliance"))
    parser.add_argument("--seconds", type=float, default=10.0)
    default = Path(tempfile.gettempdir()) / "continuum-profile.txt"
    parser.add_argument("--output", type=Path, default=default)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists() or not wrk.available():
        print("needs py-spy (pip install py-spy) and wrk (apt-get install wrk)", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    token = mint_token(SECRET, role=Role.CLINICIAN, sub="bench-clinician", programs=[PROGRAM])
    with temporary_database(args.postgres_url) as (url, _), server(url) as base_url:
        timeline_id, writers = seed(url, TIMELINE_EVENTS)
        first = datetime.now(UTC) - timedelta(days=_history_days(TIMELINE_EVENTS) - 1)
        ids = [str(w) for w in writers]
        path = f"/v1/participants/{timeline_id}/{args.row}"

        def load(seconds: float, start: datetime) -> dict[str, object]:
            if args.row == "write":
                return wrk.sessions_load(base_url, token, seconds, CLIENTS, ids, start)
            return wrk.read_load(base_url, token, seconds, CLIENTS, path)

        load(WARM_UP_SECONDS, first)
        # The uvicorn supervisor holds the listening socket; --subprocesses adds its workers.
        supervisor = _parent_of_all(listening_pids(int(base_url.rsplit(":", 1)[1])))
        recorder = subprocess.Popen(
            [spy, "record", "--subprocesses", "--gil", "--nonblocking", "--rate", "200",
             "--duration", str(int(args.seconds)), "--format", "raw",
             "--output", str(args.output), "--pid", str(supervisor)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        result = load(args.seconds, first + timedelta(days=ROUND_DAYS))
        recorder.wait(timeout=args.seconds + 60)
    print(f"{args.row}: {result}; stacks in {args.output}")
    return recorder.returncode


def _parent_of_all(pids: set[int]) -> int:
    """The one of `pids` that the others are children of (uvicorn's supervisor)."""
    parents = {
        int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) for pid in pids
    }
    return next(iter(pids & parents)) if pids & parents else min(pids)


if __name__ == "__main__":
    sys.exit(main())
