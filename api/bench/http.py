"""HTTP: a real `continuum serve` (uvicorn, auth on, one worker process per core) and a load
generator in another process: wrk if installed, else api/bench/load.py
(CONTINUUM_BENCH_LOAD=python|wrk chooses).

Measures a timeline read of a participant with `timeline_events` events, and a session write
(no two concurrent requests writing to the same participant), with 16 concurrent clients.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx

from api.bench import wrk
from api.bench.connections import sampled_split
from api.bootstrap import open_url
from api.security.tokens import Role, mint_token
from api.seed.commands import admission, recorded_session
from api.seed.generate import PendingCohort

SECRET = "continuum-bench-secret-0123456789abcdef-0123"
PROGRAM = "bench-http"
CLIENTS = 16
# Participants the session writes go to (wrk spreads requests over them in turn).
WRITE_PARTICIPANTS = 256
# Server processes: one per core, as a deployment on this machine would run.
WORKERS = max(1, min(os.cpu_count() or 1, 4))


def seed(store_url: str, timeline_events: int) -> tuple[UUID, list[UUID]]:
    """A participant with `timeline_events` events, and one participant per client to write to."""
    app = open_url(store_url, pool_size=1).application
    cohort = PendingCohort()
    now = datetime.now(UTC)
    # Before every session the load generator writes (it starts 300 days back).
    admitted = now - timedelta(days=max(timeline_events + 10, 400))
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
def server(store_url: str, workers: int = WORKERS) -> Iterator[str]:
    """A `continuum serve --workers N` on a free port, with the bench's token secret."""
    port = free_port()
    env = {
        **os.environ,
        "CONTINUUM_DATABASE_URL": store_url,
        "CONTINUUM_DEMO": "0",
        "CONTINUUM_JWT_SECRET": SECRET,
        "CONTINUUM_LOG_LEVEL": "WARNING",
        "CONTINUUM_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
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


def http_bench(
    store_url: str, seconds: float, timeline_events: int, read_rounds: int = 1
) -> dict[str, Any]:
    """The timeline read `read_rounds` times (the median by p99 reported), then the write.

    Each read round opens its connections afresh, so each gets its own split over the
    workers (see api.bench.connections); the median keeps one unlucky split from deciding
    the figure, and every round is kept in the report.
    """
    timeline_id, writers = seed(store_url, timeline_events)
    token = mint_token(SECRET, role=Role.CLINICIAN, sub="bench-clinician", programs=[PROGRAM])
    writer_ids = [str(w) for w in writers]
    with server(store_url) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        with_wrk = use_wrk()
        # Sampled mid-run (after any warm-up): the measured run's own connections.
        middle = seconds / 2 + (wrk.WARM_UP_SECONDS if with_wrk else 0)
        reads = []
        for _ in range(read_rounds):
            with sampled_split(port, middle) as read_split:
                if with_wrk:
                    read = wrk.timeline_load(base_url, token, seconds, CLIENTS, str(timeline_id))
                else:
                    read = load(base_url, token, seconds, "--timeline", str(timeline_id))
            reads.append({**read, "connections_per_worker": read_split})
        with sampled_split(port, middle) as write_split:
            if with_wrk:
                first_session = datetime.now(UTC) - timedelta(days=300)
                write = wrk.sessions_load(
                    base_url, token, seconds, CLIENTS, writer_ids, first_session
                )
            else:
                write = load(base_url, token, seconds, "--sessions", ",".join(writer_ids[:CLIENTS]))
        write["connections_per_worker"] = write_split
    generator = (
        f"wrk, {wrk.THREADS} threads, {CLIENTS} connections, own process"
        if with_wrk
        else "api/bench/load.py: 16 threads, one httpx client each, own process"
    )
    read = sorted(reads, key=lambda r: r["p99_ms"])[len(reads) // 2]
    if len(reads) > 1:
        read["rounds"] = [
            {k: r[k] for k in ("requests_per_s", "p50_ms", "p99_ms", "connections_per_worker")}
            for r in reads
        ]
    return {
        "clients": CLIENTS,
        "server_workers": WORKERS,
        "timeline_events": timeline_events,
        "load_generator": generator,
        "timeline_read": read,
        "session_write": write,
    }
