"""`continuum serve --workers N`: several server processes on one port and one store.

Each worker has its own caches (aggregates, rendered timelines, last-saved copies); whichever
worker answers, a read after a write shows it, and writes through different workers to one
participant all land, in order.
"""

from __future__ import annotations

import gc

import httpx
import pytest

from api.bench.http import PROGRAM, SECRET, server
from api.cli.main import main, served_app_from_env
from api.security.tokens import Role, mint_token

ADMIT = {
    "program_id": PROGRAM, "age_group": "adult", "level": "2.1", "pathway": "primary",
    "admitted_at": "2026-01-05T09:00:00+00:00",
}  # fmt: skip


def test_reads_through_any_worker_see_every_write(database_url: str) -> None:
    if database_url.startswith("memory"):
        pytest.skip("an in-memory store cannot be shared by worker processes")
    token = mint_token(SECRET, role=Role.CLINICIAN, sub="dr-1", programs=[PROGRAM])
    with (
        server(database_url, workers=2) as base_url,
        httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client,
    ):
        admitted = client.post("/v1/participants", json=ADMIT)
        assert admitted.status_code == 201, admitted.text
        pid = admitted.json()["participant_id"]
        for day in range(1, 13):
            # A new connection per request, so the kernel spreads them over both workers.
            with httpx.Client(base_url=base_url, headers=client.headers, timeout=30) as one:
                written = one.post(
                    f"/v1/participants/{pid}/sessions",
                    json={"service": "group", "started_at": f"2026-01-{5 + day:02d}T10:00:00Z",
                          "duration_minutes": 60, "attended": True},
                )  # fmt: skip
                assert written.status_code == 201, written.text
            with httpx.Client(base_url=base_url, headers=client.headers, timeout=30) as other:
                timeline = other.get(f"/v1/participants/{pid}/timeline")
                assert timeline.status_code == 200
                assert [e["version"] for e in timeline.json()["events"]] == list(range(1, 3 + day))


def test_workers_refuse_a_store_they_cannot_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", "memory://")
    monkeypatch.setenv("CONTINUUM_DEMO", "1")
    assert main(["serve", "--workers", "2"]) == 2
    assert main(["serve", "--workers", "0"]) == 2


def test_each_worker_freezes_its_startup_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `serve --workers N` process builds its app, then freezes what it built (see
    api.cli.main.freeze_startup_heap), before it serves."""
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", "memory://")
    monkeypatch.setenv("CONTINUUM_DEMO", "0")
    monkeypatch.setenv("CONTINUUM_TIMEZONE", "America/Chicago")
    monkeypatch.setenv("CONTINUUM_JWT_SECRET", SECRET)
    gc.unfreeze()
    try:
        app = served_app_from_env()
        try:
            assert gc.get_freeze_count() > 0
            assert not any(o is app for o in gc.get_objects())
        finally:
            app.state.application.close()
    finally:
        gc.unfreeze()


def test_metrics_sum_every_workers_counts(database_url: str) -> None:
    """Whichever worker answers a scrape, it counts the appends of both (multiprocess mode)."""
    if database_url.startswith("memory"):
        pytest.skip("an in-memory store cannot be shared by worker processes")
    token = mint_token(SECRET, role=Role.CLINICIAN, sub="dr-1", programs=[PROGRAM])
    with server(database_url, workers=2) as base_url:
        for _ in range(12):  # a new connection each: the kernel spreads them over both
            with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                              timeout=30) as one:  # fmt: skip
                assert one.post("/v1/participants", json=ADMIT).status_code == 201
        for _ in range(4):
            with httpx.Client(base_url=base_url, timeout=30) as scraper:
                text = scraper.get("/metrics").text
            assert 'continuum_events_appended_total{type="Admitted"} 12.0' in text
