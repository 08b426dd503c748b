"""/livez, /readyz, /healthz and /metrics: open without a token, no participant data."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from tests.e2e.support import session
from tests.integration.test_view_failures import BrokenOnAdmission

SERIES = (
    "continuum_view_position",
    "continuum_log_head_position",
    "continuum_view_lag_events",
    "continuum_view_lag_seconds",
    "continuum_events_appended_total",
    "continuum_http_request_duration_seconds",
    "continuum_store_errors_total",
    "continuum_access_log_failures_total",
    "continuum_view_failures_total",
)


def test_probes_answer_without_a_token(client: TestClient) -> None:
    anonymous = TestClient(client.app)
    assert anonymous.get("/livez").json() == {"status": "ok"}
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"store": "ok", "views": "ok"}
    assert anonymous.get("/metrics").status_code == 200


def test_metrics_name_the_series_and_no_participant(client: TestClient, participant: str) -> None:
    written = client.post(f"/v1/participants/{participant}/sessions", json=session())
    assert written.status_code == 201
    assert client.get(f"/v1/participants/{participant}/compliance").status_code == 200
    text = client.get("/metrics").text
    for name in SERIES:
        assert re.search(rf"^# TYPE {name}", text, flags=re.MULTILINE), name
    assert 'continuum_events_appended_total{type="SessionAttended"}' in text
    assert 'route="/v1/participants/{participant_id}/compliance"' in text
    assert participant not in text
    assert re.search(r"^continuum_view_position \d", text, flags=re.MULTILINE)


def test_readiness_fails_while_the_views_are_stalled(client: TestClient, participant: str) -> None:
    views = client.app.state.views  # type: ignore[attr-defined]
    views.stop()
    views.store.drop_tables()  # the views must now replay the admission, which the bug breaks
    good = views.runner.fold
    views.runner.fold = BrokenOnAdmission()
    views.runner.attempt(0.01)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["views"] == "stalled"
    assert 'continuum_view_failures_total{kind="fold"}' in client.get("/metrics").text
    views.runner.fold = good
    views.runner.attempt(0.01)
    assert client.get("/readyz").status_code == 200


def test_readiness_fails_when_the_views_lag_too_long(
    client: TestClient, participant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    views = client.app.state.views  # type: ignore[attr-defined]
    views.stop()  # nothing applies the next write
    written = client.post(f"/v1/participants/{participant}/sessions", json=session())
    assert written.status_code == 201
    state = client.app.state  # type: ignore[attr-defined]
    monkeypatch.setattr(state, "settings", replace(state.settings, ready_max_lag_seconds=1))
    lag = views.lag()
    assert lag.events >= 1
    # The event's timestamp is the real clock's (the app's fixed clock is for clinical time).
    time.sleep(max(0.0, 1.2 - lag.seconds))
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["views"] == "behind"


def test_healthz_and_readyz_answer_503_when_the_store_is_gone(client: TestClient) -> None:
    application = client.app.state.application  # type: ignore[attr-defined]

    def down() -> int:
        raise OSError("connection refused")

    original = application.recorder.max_notification_id
    application.recorder.max_notification_id = down
    try:
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["store"] == "unavailable"
        assert client.get("/livez").status_code == 200  # the process itself is fine
    finally:
        application.recorder.max_notification_id = original


def test_metrics_show_each_relays_position_and_lag(client: TestClient, participant: str) -> None:
    feed = client.app.state.feed  # type: ignore[attr-defined]
    feed.log.record([], ("nats:CONTINUUM:integrator-7", 1))
    text = client.get("/metrics").text
    head = int(float(re.findall(r"^continuum_log_head_position (\S+)", text, re.M)[0]))
    assert 'continuum_relay_position{relay="nats:CONTINUUM:integrator-7"} 1.0' in text
    lag = f'continuum_relay_lag_events{{relay="nats:CONTINUUM:integrator-7"}} {head - 1}.0'
    assert lag in text
