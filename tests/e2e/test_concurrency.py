"""Concurrent writes to one participant through HTTP: none lost, versions contiguous."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.e2e.support import ADMITTED_AT, OpenClient, admission, iso, post, session

THREADS = 8
WRITES_PER_THREAD = 10


@pytest.mark.slow
def test_parallel_sessions_on_one_participant(postgres_url: str, open_client: OpenClient) -> None:
    """Given one participant on PostgreSQL, when 8 threads each post 10 sessions at once,
    then all 80 are recorded, each answered 201 with its own version, and the stream's
    versions run 1..82 without a gap."""
    client = open_client(postgres_url)
    participant = client.post("/v1/participants", json=admission()).json()["participant_id"]

    def write_sessions(thread: int) -> list[int]:
        statuses_and_versions = []
        for n in range(WRITES_PER_THREAD):
            minute = thread * WRITES_PER_THREAD + n
            started = iso(ADMITTED_AT + timedelta(days=1, minutes=minute))
            response = post(client, participant, "sessions", session(started_at=started))
            assert response.status_code == 201, response.text
            statuses_and_versions.append(response.json()["version"])
        return statuses_and_versions

    with ThreadPoolExecutor(THREADS) as pool:
        versions = [v for batch in pool.map(write_sessions, range(THREADS)) for v in batch]

    total = 2 + THREADS * WRITES_PER_THREAD
    assert sorted(versions) == list(range(3, total + 1))
    events = client.get(f"/v1/participants/{participant}/timeline").json()["events"]
    assert sorted(e["version"] for e in events) == list(range(1, total + 1))
    assert sum(e["type"] == "SessionAttended" for e in events) == THREADS * WRITES_PER_THREAD


def test_client_is_shared_across_threads_safely(client: TestClient) -> None:
    """Sanity: concurrent reads through one TestClient all answer (the harness above relies
    on it)."""
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: client.get("/healthz").status_code, range(8)))
    assert statuses == [200] * 8
