"""Faults of the real PostgreSQL, bounded in time: killed connections and a restart under load.

Clients see success or 503 `store_unavailable` with Retry-After, never a 500 and never a wait
as long as the outage; every acknowledged write survives, retried writes are settled by their
Idempotency-Key, and the views end equal to a clean rebuild.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from api.bench.http import PROGRAM, SECRET, server
from api.bootstrap import Service, open_url
from api.security.tokens import Role, mint_token
from api.seed.commands import admission
from api.storage.backend import LISTEN_APPLICATION_NAME
from tests.conftest import fresh_database, private_executor
from tests.e2e.support import NOW, authorized_client, build_app, session

pytestmark = pytest.mark.postgres
ADMITTED = date(2026, 1, 5)


def terminate(url: str, where: str) -> int:
    """pg_terminate_backend on the test database's connections matching `where`."""
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = %s AND pid <> pg_backend_pid() AND ({where})",
            (dbname,),
        ).fetchall()
    return len(rows)


@pytest.fixture
def service(postgres_url: str) -> Iterator[Service]:
    with open_url(postgres_url) as opened:
        yield opened


def test_views_follow_after_the_listen_connection_is_killed(
    postgres_url: str, service: Service
) -> None:
    app, views = service.application, service.views
    views.start()
    try:
        listener = views.listener
        assert listener is not None and listener.connected.wait(10)
        command = admission(NOW, program_id="p1", level="2.1")
        app.execute(command, recorded_by="t", now=NOW)
        killed = terminate(postgres_url, f"application_name = '{LISTEN_APPLICATION_NAME}'")
        assert killed == 1
        recorded = app.execute(
            admission(NOW, program_id="p1", level="2.1"), recorded_by="t", now=NOW
        )
        assert recorded.position is not None
        # Polling covers the lost NOTIFYs: within a few poll intervals, not "eventually".
        deadline = time.monotonic() + 3
        while views.store.position() < recorded.position:
            assert time.monotonic() < deadline, "views stalled without their LISTEN connection"
            time.sleep(0.05)
        deadline = time.monotonic() + 10
        while listener.connections < 2:
            assert time.monotonic() < deadline, "the listener did not reconnect"
            time.sleep(0.05)
    finally:
        views.stop()


def test_killed_pool_connections_are_replaced_or_answered_503(postgres_url: str) -> None:
    with authorized_client(build_app(postgres_url)) as client:
        admitted = client.post("/v1/participants", json=_admission())
        assert admitted.status_code == 201
        pid = admitted.json()["participant_id"]
        statuses: Counter[int] = Counter()
        for round_ in range(3):
            terminate(postgres_url, f"application_name <> '{LISTEN_APPLICATION_NAME}'")
            for path in ("", "/timeline", "/compliance"):
                statuses[_checked(client.get(f"/v1/participants/{pid}{path}"))] += 1
            written = client.post(
                f"/v1/participants/{pid}/sessions",
                json=session(started_at=f"2026-02-{3 + round_:02d}T10:00:00Z"),
                headers={"Idempotency-Key": f"kill-{round_}"},
            )
            statuses[_checked(written)] += 1
        assert set(statuses) <= {200, 201, 503}
        assert statuses[200] + statuses[201] >= 9, statuses  # a dead connection is replaced


def _checked(response: Any) -> int:
    assert response.status_code != 500, response.text
    if response.status_code == 503:
        assert response.headers["retry-after"] == "2"
        assert response.json()["error"] in {"store_unavailable", "access_log_unavailable"}
    return int(response.status_code)


def _admission() -> dict[str, Any]:
    return {
        "program_id": PROGRAM, "age_group": "adult", "level": "2.1", "pathway": "primary",
        "admitted_at": f"{ADMITTED}T09:00:00Z",
    }  # fmt: skip


@pytest.fixture
def restartable() -> Iterator[tuple[str, Any]]:
    """A fresh database on a private server of this test's own, and that server's executor."""
    try:
        with private_executor() as (server_url, executor), fresh_database(server_url) as url:
            yield url, executor
    except Exception as error:
        if "PostgresUnavailable" in type(error).__name__:
            pytest.skip(str(error))
        raise


@pytest.mark.slow
def test_a_restart_under_write_load_loses_no_acknowledged_write(
    restartable: tuple[str, Any],
) -> None:
    url, executor = restartable
    token = mint_token(SECRET, role=Role.CLINICIAN, sub="dr-1", programs=[PROGRAM])
    headers = {"Authorization": f"Bearer {token}"}
    with server(url, workers=2) as base_url:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            pids = [client.post("/v1/participants", json=_admission()).json()["participant_id"]
                    for _ in range(4)]  # fmt: skip
        stop = threading.Event()
        acknowledged: dict[str, int] = Counter()
        seen: Counter[int] = Counter()
        slowest = [0.0]
        lock = threading.Lock()

        def writer(pid: str) -> None:
            with httpx.Client(base_url=base_url, headers=headers, timeout=60) as one:
                n = 0
                while not stop.is_set():
                    key = f"{pid}-{n}"
                    day = ADMITTED + timedelta(days=1 + n % 60)
                    body = {"service": "group", "started_at": f"{day}T10:{n % 60:02d}:00Z",
                            "duration_minutes": 30, "attended": True}  # fmt: skip
                    while True:  # the same key until it is settled
                        started = time.monotonic()
                        response = one.post(
                            f"/v1/participants/{pid}/sessions",
                            json=body, headers={"Idempotency-Key": key},
                        )  # fmt: skip
                        with lock:
                            slowest[0] = max(slowest[0], time.monotonic() - started)
                            seen[response.status_code] += 1
                        if response.status_code == 201:
                            break
                        assert response.status_code == 503, response.text
                        assert response.headers["retry-after"] == "2"
                        time.sleep(0.5)
                    with lock:
                        acknowledged[pid] += 1
                    n += 1

        threads = [threading.Thread(target=writer, args=(pid,)) for pid in pids]
        for thread in threads:
            thread.start()
        time.sleep(3)
        with executor.stopped():
            time.sleep(5)
        time.sleep(5)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        assert seen[503] > 0, "the outage was not observed"
        # Bounded: a request during the outage is answered after the pool's wait, not held.
        assert slowest[0] < 15, slowest[0]
    with open_url(url) as opened:
        app = opened.application
        for pid in pids:
            sessions = app.get_participant(UUID(pid)).version - 2  # registered + admitted
            assert sessions == acknowledged[pid]
        opened.views.runner.catch_up()
        fresh = opened.view_store("participant_views_check")
        opened.open_views("participant_views_check").runner.rebuild()
        assert fresh.digest() == opened.views.store.digest()
