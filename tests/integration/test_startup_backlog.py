"""`serve --workers 2` on a store whose views are gone: both workers face the whole backlog.

Each worker catches up for a bounded time, then serves while the rest continues in the
background; only one batch commits at a time per view table, so the workers never deadlock
and the views end equal to a clean rebuild.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from api.bench.http import server
from api.bootstrap import open_url

pytestmark = pytest.mark.postgres


def generate(url: str, participants: int) -> None:
    subprocess.run(
        [sys.executable, "-m", "api.cli", "generate", "--participants", str(participants)],
        env={**os.environ, "CONTINUUM_DATABASE_URL": url, "CONTINUUM_DEMO": "0",
             "CONTINUUM_TIMEZONE": "America/Chicago"},
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip


def drop_views(url: str) -> None:
    with open_url(url) as service:
        service.views.store.remove_tables()


def start_on_backlog(url: str) -> None:
    drop_views(url)
    with server(url, workers=2) as base_url:  # raises if the server exits or never answers
        deadline = time.monotonic() + 300
        while httpx.get(f"{base_url}/readyz", timeout=10).json()["checks"]["views"] != "ok":
            assert time.monotonic() < deadline, "the views did not catch up"
            time.sleep(0.5)
    with open_url(url) as service:
        live = service.views.store
        assert live.position() == service.application.recorder.max_notification_id()
        fresh = service.view_store("participant_views_check")
        service.open_views("participant_views_check").runner.rebuild()
        assert fresh.digest() == live.digest()


def test_two_workers_start_on_a_backlog(postgres_url: str) -> None:
    generate(postgres_url, 300)
    for _ in range(2):
        start_on_backlog(postgres_url)


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("CONTINUUM_LONG_TESTS"),
    reason="9 minutes on two cores: set CONTINUUM_LONG_TESTS=1 (.ci/run does)",
)
def test_twenty_starts_on_a_1500_participant_backlog(postgres_url: str) -> None:
    generate(postgres_url, 1500)
    for _ in range(20):
        start_on_backlog(postgres_url)
