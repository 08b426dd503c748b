"""kill -9 of one `serve --workers 2` worker under write load: the server carries on (uvicorn
starts a replacement), a client whose connection died retries with the same Idempotency-Key,
and every acknowledged write is kept exactly once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from api.bench.http import server
from tests.integration.fault_support import Writers
from tests.integration.test_store_faults import assert_every_acknowledged_write_kept

pytestmark = pytest.mark.postgres


def workers_of(base_url: str) -> list[int]:
    """The worker process ids of the `serve` listening at `base_url` (from /proc: Linux)."""
    port = base_url.rsplit(":", 1)[1]
    processes: dict[int, tuple[list[str], int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes().split(b"\0")
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
            processes[int(entry.name)] = ([c.decode(errors="replace") for c in raw], parent)
    for pid, (cmdline, _) in processes.items():
        if "serve" in cmdline and port in cmdline:
            return [
                child for child, (line, parent) in processes.items()
                if parent == pid and "spawn_main" in " ".join(line)
            ]  # fmt: skip
    raise AssertionError("no server process found")


def test_a_worker_killed_under_load_loses_no_acknowledged_write(postgres_url: str) -> None:
    with server(postgres_url, workers=2) as base_url:
        workers = workers_of(base_url)
        assert len(workers) == 2
        with Writers(base_url, participants=4) as writers:
            time.sleep(2)
            os.kill(workers[0], signal.SIGKILL)
            time.sleep(6)
            acknowledged_after_kill = sum(writers.acknowledged.values())
            time.sleep(2)
            assert sum(writers.acknowledged.values()) > acknowledged_after_kill  # still serving
        assert writers.failures == []
        assert writers.seen["201"] > 0
    assert_every_acknowledged_write_kept(postgres_url, writers)
