"""Session writers that keep writing through a fault, each write retried with its own
Idempotency-Key until it is acknowledged (what a careful client does)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date, timedelta
from typing import Any

import httpx

from api.bench.http import PROGRAM, SECRET
from api.security.tokens import Role, mint_token

ADMITTED = date(2026, 1, 5)


def admission_body() -> dict[str, Any]:
    return {
        "program_id": PROGRAM, "age_group": "adult", "level": "2.1", "pathway": "primary",
        "admitted_at": f"{ADMITTED}T09:00:00Z",
    }  # fmt: skip


class Writers:
    """Threads writing sessions to `participants` at `base_url` until stopped.

    `seen` counts every status (and `connection_error`); `acknowledged` counts each
    participant's settled writes; `slowest` is the longest single request in seconds. A 503
    must carry Retry-After; any other non-201 answer fails the writer (kept in `failures`).
    """

    def __init__(self, base_url: str, participants: int) -> None:
        token = mint_token(SECRET, role=Role.CLINICIAN, sub="dr-1", programs=[PROGRAM])
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base_url, headers=self.headers, timeout=60) as client:
            self.participants = [
                client.post("/v1/participants", json=admission_body()).json()["participant_id"]
                for _ in range(participants)
            ]
        self.seen: Counter[str] = Counter()
        self.acknowledged: Counter[str] = Counter()
        self.failures: list[str] = []
        self.slowest = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._write, args=(pid,)) for pid in self.participants
        ]

    def __enter__(self) -> Writers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    def _write(self, pid: str) -> None:
        n = 0
        while not self._stop.is_set():
            day = ADMITTED + timedelta(days=1 + n % 60)
            body = {"service": "group", "started_at": f"{day}T10:{n % 60:02d}:00Z",
                    "duration_minutes": 30, "attended": True}  # fmt: skip
            while not self._settle(pid, f"{pid}-{n}", body):  # the same key until settled
                time.sleep(0.5)
            with self._lock:
                self.acknowledged[pid] += 1
            n += 1

    def _settle(self, pid: str, key: str, body: dict[str, Any]) -> bool:
        started = time.monotonic()
        try:
            # A new connection per write: a killed worker's connections do not linger.
            with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=60) as one:
                response = one.post(
                    f"/v1/participants/{pid}/sessions", json=body,
                    headers={"Idempotency-Key": key},
                )  # fmt: skip
            outcome = str(response.status_code)
        except httpx.TransportError:
            response, outcome = None, "connection_error"
        with self._lock:
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.seen[outcome] += 1
            if response is not None and response.status_code not in (201, 503):
                self.failures.append(f"{response.status_code}: {response.text[:200]}")
            retry_after = None if response is None else response.headers.get("retry-after")
            if outcome == "503" and retry_after != "2":
                self.failures.append("503 without Retry-After: 2")
        return outcome == "201"
