"""HTTP: a real `continuum serve` (uvicorn, auth on, one worker process per core) and a load
generator in another process: wrk if installed, else api/bench/load.py
(CONTINUUM_BENCH_LOAD=python|wrk chooses).

Measures a timeline and a compliance read of a participant with `timeline_events` events, and a
session write (no two concurrent requests writing to the same participant), with 16 concurrent
clients; beside each, in the same rounds, its ceiling (api.bench.ceiling_server).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx

from api.bench import server_cpu, wrk
from api.bench.ceiling_server import LOGGED_PREFIX, is_postgres
from api.bench.ceiling_server import create_table as create_ceiling_table
from api.bench.connections import sampled_split
from api.bench.consistency import LagScraper
from api.bootstrap import open_url
from api.security.tokens import Role, mint_token
from api.seed.commands import admission, recorded_session
from api.seed.generate import PendingCohort

SECRET = "continuum-bench-secret-0123456789abcdef-0123"
PROGRAM = "bench-http"
CLIENTS = 16
# Participants the session writes go to (wrk spreads requests over them in turn).
WRITE_PARTICIPANTS = 256
# api/bench/load.py's warm-up, excluded from its counts.
PYTHON_WARM_UP_SECONDS = 0.5
# Server processes: one per core, as a deployment on this machine would run.
WORKERS = max(1, min(os.cpu_count() or 1, 4))


def seed(store_url: str, timeline_events: int) -> tuple[UUID, list[UUID]]:
    """A participant with `timeline_events` events, and one participant per client to write to."""
    app = open_url(store_url, pool_size=1).application
    cohort = PendingCohort()
    now = datetime.now(UTC)
    # Before every session the load generator writes (from the day after, api.bench.http).
    admitted = now - timedelta(days=_history_days(timeline_events))
    ids = [uuid4() for _ in range(WRITE_PARTICIPANTS + 1)]
    try:
        for pid in ids:
            cohort.execute(
                admission(admitted, participant_id=pid, program_id=PROGRAM, level="2.1"),
                recorded_by="bench",
                now=now,
            )
        for day in range(timeline_events - 2):
            cohort.execute(
                recorded_session(
                    ids[0],
                    admitted + timedelta(days=day, hours=1),
                    180,
                    attended=day % 9 != 0,
                    modality="CBT",
                ),
                recorded_by="bench",
                now=now,
            )
        app.save(*cohort.take())
    finally:
        app.close()
    return ids[0], ids[1:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(store_url: str, workers: int = WORKERS, checkout: Path | None = None) -> Iterator[str]:
    """A `continuum serve --workers N` on a free port, with the bench's token secret.

    `checkout`: serve another working tree's code with its own `.venv` (api.bench.ab_http)."""
    command = ["-m", "api.cli", "serve", "--workers", str(workers), "--port"]
    with _serving(command, server_settings(store_url), checkout) as base_url:
        yield base_url


def server_settings(store_url: str) -> dict[str, str]:
    """The environment the bench serves the app with (api.bench.request_cost opens it so too)."""
    return {
        "CONTINUUM_DATABASE_URL": store_url,
        "CONTINUUM_DEMO": "0",
        "CONTINUUM_TIMEZONE": "America/Chicago",
        "CONTINUUM_JWT_SECRET": SECRET,
        "CONTINUUM_LOG_LEVEL": "WARNING",
        "CONTINUUM_LOG_FORMAT": "json",
    }


@contextmanager
def ceiling_server(database: str, bodies: dict[str, str], workers: int = WORKERS) -> Iterator[str]:
    """The ceilings' app (api.bench.ceiling_server), same server settings as `server`."""
    create_ceiling_table(database)
    with tempfile.TemporaryDirectory(prefix="continuum-ceiling-") as directory:
        path = Path(directory) / "bodies.json"
        path.write_text(json.dumps(bodies))
        env = {
            "CONTINUUM_JWT_SECRET": SECRET,
            "CONTINUUM_CEILING_DATABASE": database,
            "CONTINUUM_CEILING_BODIES": str(path),
        }
        command = ["-m", "api.bench.ceiling_server", "--workers", str(workers), "--port"]
        with _serving(command, env) as base_url:
            yield base_url


@contextmanager
def _serving(
    command: list[str], env: dict[str, str], checkout: Path | None = None
) -> Iterator[str]:
    """`python <command> <free port>` until /healthz answers; stopped on leaving. In
    `checkout` with its own interpreter when one is given, else here with this one."""
    port = free_port()
    python = str(checkout / ".venv" / "bin" / "python") if checkout else sys.executable
    process = subprocess.Popen(
        [python, *command, str(port)], env={**os.environ, **env}, cwd=checkout,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"the server exited ({process.returncode}): {error[-2000:]}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /healthz within 120 s")
            time.sleep(0.2)
        yield base_url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load(base_url: str, token: str, seconds: float, *target: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "api.bench.load", "--base-url", base_url, "--token", token,
         "--clients", str(CLIENTS), "--seconds", str(seconds), *target],
        capture_output=True, text=True, check=True, timeout=seconds + 120,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def use_wrk() -> bool:
    choice = os.environ.get("CONTINUUM_BENCH_LOAD", "auto")
    if choice == "wrk" and not wrk.available():
        raise RuntimeError(
            "CONTINUUM_BENCH_LOAD=wrk, but wrk is not installed (apt-get install wrk)"
        )
    return choice == "wrk" or (choice == "auto" and wrk.available())


class Loads:
    """The load generator against one server: GETs of a path and session writes."""

    def __init__(self, base_url: str, token: str, seconds: float, with_wrk: bool) -> None:
        self.base_url, self.token, self.seconds, self.with_wrk = base_url, token, seconds, with_wrk
        self.port = int(base_url.rsplit(":", 1)[1])
        # Sampled mid-run (after any warm-up): the measured run's own connections.
        self.middle = seconds / 2 + (wrk.WARM_UP_SECONDS if with_wrk else 0)

    def get(self, path: str) -> dict[str, Any]:
        with sampled_split(self.port, self.middle) as split, server_cpu.measured(self.port) as cpu:
            if self.with_wrk:
                result = wrk.read_load(self.base_url, self.token, self.seconds, CLIENTS, path)
            else:
                result = load(self.base_url, self.token, self.seconds, "--get", path)
        return self._with(result, split, cpu)

    def _with(
        self, result: dict[str, Any], split: list[int], cpu: dict[str, float]
    ) -> dict[str, Any]:
        warm_up = wrk.WARM_UP_SECONDS if self.with_wrk else PYTHON_WARM_UP_SECONDS
        return {
            **result,
            "connections_per_worker": split,
            "server_cpu_ms_per_request": server_cpu.per_request_ms(cpu, result, warm_up),
        }

    def sessions(self, participant_ids: list[str], first: datetime) -> dict[str, Any]:
        with sampled_split(self.port, self.middle) as split, server_cpu.measured(self.port) as cpu:
            if self.with_wrk:
                result = wrk.sessions_load(
                    self.base_url, self.token, self.seconds, CLIENTS, participant_ids, first
                )
            else:
                result = load(
                    self.base_url, self.token, self.seconds, "--sessions",
                    ",".join(participant_ids[:CLIENTS]), "--first-session", first.isoformat(),
                )  # fmt: skip
        return self._with(result, split, cpu)


# Each round's session writes start this many days after the previous round's.
ROUND_DAYS = 100
ROWS = (
    "read_ceiling", "logged_read_ceiling", "timeline_read", "compliance_read", "write_ceiling",
    "session_write",
)  # fmt: skip
# The share of a ceiling's requests that may fail (timeouts) before its row is void.
CEILING_ERRORS_TOLERATED = 0.001
# Each HTTP row and the ceiling it is a ratio of.
CEILING_OF = {
    "timeline_read": "read_ceiling",
    "compliance_read": "read_ceiling",
    "session_write": "write_ceiling",
}
# Informational ratios: what the contract's logged, read-your-writes work leaves of the read
# ceiling (api.bench.ceiling_server), and what the application's timeline read keeps of that.
SHARE_OF = {
    "logged_read_ceiling": "read_ceiling",
    "timeline_read": "logged_read_ceiling",
}


def http_bench(
    store_url: str,
    ceiling_database: str,
    seconds: float,
    timeline_events: int,
    rounds: int = 1,
) -> dict[str, Any]:
    """The ceilings and the real rows in `rounds` interleaved rounds, the median of each kept.

    Each load opens its connections afresh, so each gets its own split over the workers (see
    api.bench.connections); interleaving puts each ceiling right beside its rows, so drift on
    a shared machine hits both alike, and the median keeps one unlucky split from deciding.
    """
    timeline_id, writers = seed(store_url, timeline_events)
    token = mint_token(SECRET, role=Role.CLINICIAN, sub="bench-clinician", programs=[PROGRAM])
    writer_ids = [str(w) for w in writers]
    paths = {
        "timeline_read": f"/v1/participants/{timeline_id}/timeline",
        "compliance_read": f"/v1/participants/{timeline_id}/compliance",
    }
    with_wrk = use_wrk()
    # The logged read ceiling runs on PostgreSQL only (api.bench.ceiling_server).
    logged_ceiling = is_postgres(ceiling_database)
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in ROWS}
    lags: list[dict[str, Any]] = []
    # Session writes start the day after the writers' admission (api.bench.http.seed).
    first_session = datetime.now(UTC) - timedelta(days=_history_days(timeline_events) - 1)
    with server(store_url) as base_url:
        bodies = _bodies(base_url, token, paths)
        with ceiling_server(ceiling_database, bodies) as ceiling_url:
            real = Loads(base_url, token, seconds, with_wrk)
            ceiling = Loads(ceiling_url, token, seconds, with_wrk)
            for n in range(rounds):
                first = first_session + timedelta(days=ROUND_DAYS * n)
                measured["read_ceiling"].append(ceiling.get(paths["timeline_read"]))
                if logged_ceiling:
                    logged_path = LOGGED_PREFIX + paths["timeline_read"]
                    measured["logged_read_ceiling"].append(ceiling.get(logged_path))
                measured["timeline_read"].append(real.get(paths["timeline_read"]))
                measured["compliance_read"].append(real.get(paths["compliance_read"]))
                measured["write_ceiling"].append(ceiling.sessions(writer_ids, first))
                with LagScraper(base_url) as scraper:  # /metrics while writes pour in
                    measured["session_write"].append(real.sessions(writer_ids, first))
                lags.append(scraper.report())
        # The ceilings' server has stopped: the online rebuild runs beside the real one only.
        online = online_rebuild_under_reads(
            store_url, base_url, token, f"/v1/participants/{writer_ids[0]}/compliance"
        )
    generator = (
        f"wrk, {wrk.THREADS} threads, {CLIENTS} connections, own process"
        if with_wrk
        else "api/bench/load.py: 16 threads, one httpx client each, own process"
    )
    report: dict[str, Any] = {
        "clients": CLIENTS,
        "server_workers": WORKERS,
        "timeline_events": timeline_events,
        "timeline_bytes": len(bodies["timeline"].encode()),
        "load_generator": generator,
        "ceilings": "api.bench.ceiling_server: same framework, workers and token verifier",
    }
    for name, results in measured.items():
        if results:
            report[name] = _median_round(results)
    for name in ("read_ceiling", "logged_read_ceiling", "write_ceiling"):
        if name not in report:
            continue
        # A ceiling answering errors would measure nothing. A few load-generator timeouts
        # are not that: the SQLite write ceiling timed out 3 of 4,348 requests behind WAL
        # checkpoint stalls (p99 1.3 s) and aborted a full run; they stay in its "errors".
        ceiling = report[name]
        if ceiling["errors"] > CEILING_ERRORS_TOLERATED * max(ceiling["requests"], 1):
            raise RuntimeError(f"the {name.replace('_', ' ')} answered errors: {ceiling}")
    report["online_rebuild"] = online
    report["view_lag_during_session_writes"] = lags[len(lags) // 2]
    for name, ceiling_name in CEILING_OF.items():
        row, top = report[name], report[ceiling_name]
        row["ratio"] = _ratio(row["requests_per_s"], top["requests_per_s"])
        row["p99_ratio"] = _ratio(row["p99_ms"], top["p99_ms"])
        if row.get("server_cpu_ms_per_request") and top.get("server_cpu_ms_per_request"):
            row["server_cpu_ratio"] = _ratio(
                row["server_cpu_ms_per_request"], top["server_cpu_ms_per_request"]
            )
    for name, of in SHARE_OF.items():
        if name in report and of in report:
            report[name][f"share_of_{of}"] = _ratio(
                report[name]["requests_per_s"], report[of]["requests_per_s"]
            )
    return report


def online_rebuild_under_reads(
    store_url: str, base_url: str, token: str, path: str
) -> dict[str, Any]:
    """`continuum rebuild --online` while CLIENTS clients read `path` (a compliance report,
    from the views) without pause: failed reads, and stale ones (a `position` below one the
    same client saw before), over the whole rebuild and switch."""
    readers = subprocess.Popen(
        [sys.executable, "-m", "api.bench.load", "--base-url", base_url, "--token", token,
         "--clients", str(CLIENTS), "--seconds", "3600", "--get", path, "--check-position"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(2)  # the readers connected and reading
        started = time.monotonic()
        rebuild = subprocess.run(
            [sys.executable, "-m", "api.cli", "rebuild", "--online"],
            env={**os.environ, "CONTINUUM_DATABASE_URL": store_url,
                 "CONTINUUM_LOG_LEVEL": "WARNING"},
            capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        seconds = time.monotonic() - started
        time.sleep(1)  # reads after the switch count too
    finally:
        readers.send_signal(signal.SIGTERM)
        out, _ = readers.communicate(timeout=120)
    if rebuild.returncode != 0:
        raise RuntimeError(f"rebuild --online failed: {rebuild.stderr[-2000:]}")
    reads: dict[str, Any] = json.loads(out)
    return {
        "clients": CLIENTS,
        "reading": "GET compliance (from the views), api/bench/load.py",
        "rebuild_seconds": round(seconds, 1),
        "reads": reads["requests"],
        "errors": reads["errors"],
        "stale_reads": reads["stale_reads"],
        "p50_ms": reads["p50_ms"],
        "p99_ms": reads["p99_ms"],
    }


def _history_days(timeline_events: int) -> int:
    return max(timeline_events + 10, 400)


def _bodies(base_url: str, token: str, paths: dict[str, str]) -> dict[str, str]:
    """The real routes' rendered bodies, which the read ceiling serves from memory."""
    headers = {"Authorization": f"Bearer {token}"}
    bodies = {}
    for name, key in (("timeline_read", "timeline"), ("compliance_read", "compliance")):
        response = httpx.get(f"{base_url}{paths[name]}", headers=headers, timeout=60)
        response.raise_for_status()
        bodies[key] = response.text
    return bodies


def _median_round(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The median round by throughput, every round kept beside it when there are several."""
    chosen = dict(sorted(results, key=lambda r: r["requests_per_s"])[len(results) // 2])
    if len(results) > 1:
        chosen["rounds"] = [
            {k: r.get(k) for k in ("requests_per_s", "p50_ms", "p99_ms", "connections_per_worker",
                                   "server_cpu_ms_per_request")}
            for r in results
        ]  # fmt: skip
        chosen["errors"] = sum(r["errors"] for r in results)
    return chosen


def _ratio(value: float, ceiling: float) -> float | None:
    return round(value / ceiling, 3) if ceiling else None
