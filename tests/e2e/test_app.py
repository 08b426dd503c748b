"""The app factory and its settings: the environment, and the last-resort 500."""

from __future__ import annotations

import pytest
import structlog
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.dependencies import clock
from api.settings import Settings, SettingsError
from tests.e2e.support import TEST_JWT_SECRET, bearer


def test_settings_from_env() -> None:
    """CONTINUUM_* variables are read once into Settings; unset ones keep their defaults."""
    settings = Settings.from_env(
        {
            "CONTINUUM_DATABASE_URL": "memory://",
            "CONTINUUM_PORT": "9000",
            "CONTINUUM_DEMO": "0",
            "CONTINUUM_TIMEZONE": "America/Denver",
            "CONTINUUM_LOG_FORMAT": "json",
        }
    )

    assert settings == Settings(
        database_url="memory://",
        port=9000,
        demo=False,
        log_format="json",
        timezone="America/Denver",
    )
    # The demo's programs run on US Central time.
    assert Settings.from_env({}) == Settings(timezone="America/Chicago")
    assert Settings().demo is True
    assert Settings().max_body_bytes == 64 * 1024


@pytest.mark.parametrize(
    "env",
    [{"CONTINUUM_PORT": "http"}, {"CONTINUUM_DEMO": "maybe"}, {"CONTINUUM_LOG_FORMAT": "xml"}],
)
def test_settings_refuse_unusable_values(env: dict[str, str]) -> None:
    """A value the service cannot use stops it at start-up, naming the variable."""
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)


def test_a_bug_answers_500_with_the_request_id_and_logs_no_detail() -> None:
    """Given a failure no input can cause (a broken dependency), the answer is a JSON 500
    naming the request id, and the log names where it broke, not the exception's message."""
    app = create_app(
        Settings(
            database_url="memory://", demo=False, log_format="console", jwt_secret=TEST_JWT_SECRET
        )
    )

    def broken() -> None:
        raise RuntimeError("secret detail: Jane Doe")

    app.dependency_overrides[clock] = broken
    with TestClient(app, headers=bearer()) as client, structlog.testing.capture_logs() as entries:
        response = client.get("/v1/participants/00000000-0000-0000-0000-000000000001")

    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert response.json()["request_id"] == response.headers["X-Request-ID"]
    [failure] = [entry for entry in entries if entry["event"] == "unhandled_error"]
    assert failure["error_type"] == "RuntimeError"
    assert not [entry for entry in entries if "Jane" in repr(entry)]


def test_fastapi_own_telemetry_stays_off_whatever_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """FastAPI's OpenTelemetry logs signal exports exception messages and stack traces, which
    may quote a record: the app turns every FastAPI signal off, even when the environment
    asks FastAPI to configure exporters itself."""
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    app = create_app(
        Settings(
            database_url="memory://", demo=False, log_format="console", jwt_secret=TEST_JWT_SECRET
        )
    )

    config = app._telemetry  # FastAPI offers no public accessor for its telemetry settings

    signals = (config["tracing"], config["metrics"], config["logs"], config["auto_configure"])
    assert signals == (False, False, False, False)
