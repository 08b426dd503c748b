"""Encryption at rest: CONTINUUM_CIPHER_KEY stores events and snapshots with AES-GCM.

On SQLite and PostgreSQL the raw events table holds no plaintext of a known field value, while
the API reads it back; a wrong key, a key on a plaintext store or no key on an encrypted one
stops the start with an error naming CONTINUUM_CIPHER_KEY. A stray environment variable cannot
switch the cipher on behind the settings.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.cli.main import main
from api.http.app import create_app
from api.settings import Settings, SettingsError
from api.storage.cipher import CipherMismatch, create_cipher_key
from tests.e2e.support import TEST_JWT_SECRET, bearer, post, session

MARKER = "plaintext-marker-7f3a"  # a free-text value no ciphertext will spell out
KEY = create_cipher_key()


def _settings(url: str, cipher_key: str | None) -> Settings:
    return Settings(
        database_url=url,
        demo=False,
        log_format="console",
        jwt_secret=TEST_JWT_SECRET,
        cipher_key=cipher_key,
    )


def _record_marker(url: str, cipher_key: str | None) -> str:
    """Admit a participant into a program named MARKER with a session on track MARKER, read
    the timeline back; return the participant id."""
    with TestClient(create_app(_settings(url, cipher_key)), headers=bearer()) as client:
        admitted = client.post(
            "/v1/participants",
            json={
                "program_id": MARKER,
                "age_group": "adult",
                "level": "2.1",
                "pathway": "primary",
                "admitted_at": "2026-02-02T09:00:00Z",
            },
        )
        participant = str(admitted.json()["participant_id"])
        written = post(
            client, participant, "sessions", session(track=MARKER, started_at="2026-02-03T09:00Z")
        )
        assert written.status_code == 201, written.text
        timeline = client.get(f"/v1/participants/{participant}/timeline").json()
    assert timeline["events"][-1]["data"]["track"] == MARKER  # readable through the API
    return participant


def _raw_sqlite(url: str) -> list[bytes]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return [bytes(row[0]) for row in db.execute("SELECT state FROM stored_events")]


def _raw_postgres(url: str) -> list[bytes]:
    with psycopg.connect(url) as db:
        return [bytes(row[0]) for row in db.execute("SELECT state FROM continuum_events")]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def durable_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A SQLite file, then a PostgreSQL database."""
    yield str(request.getfixturevalue(f"{request.param}_url"))


def _raw_states(url: str) -> list[bytes]:
    return _raw_sqlite(url) if url.startswith("sqlite") else _raw_postgres(url)


def test_events_are_ciphertext_at_rest(durable_url: str) -> None:
    """Given CONTINUUM_CIPHER_KEY, when events are written, then no stored state holds the
    known field value (nor any JSON), though the API reads it back."""
    _record_marker(durable_url, KEY)

    states = _raw_states(durable_url)

    assert len(states) == 3
    assert not [s for s in states if MARKER.encode() in s]
    assert not [s for s in states if b'"occurred_at"' in s or _is_json(s)]


def _is_json(state: bytes) -> bool:
    # Not "starts with {": random ciphertext begins with that byte one time in 256.
    try:
        json.loads(state)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return False
    return True


def test_without_a_key_the_same_value_is_visible(durable_url: str) -> None:
    """The control: without a key the same value is readable in the raw table, so the test
    above looks at the right bytes."""
    _record_marker(durable_url, None)

    assert [s for s in _raw_states(durable_url) if MARKER.encode() in s]


def test_a_wrong_key_fails_at_start(durable_url: str) -> None:
    """Given an encrypted store, starting with another key raises at app creation, naming
    CONTINUUM_CIPHER_KEY (not garbage on a later read)."""
    _record_marker(durable_url, KEY)

    with pytest.raises(CipherMismatch, match="CONTINUUM_CIPHER_KEY"):
        create_app(_settings(durable_url, create_cipher_key()))


def test_an_encrypted_store_without_a_key_fails_at_start(durable_url: str) -> None:
    """Given an encrypted store, starting without a key raises at app creation."""
    _record_marker(durable_url, KEY)

    with pytest.raises(CipherMismatch, match="CONTINUUM_CIPHER_KEY"):
        create_app(_settings(durable_url, None))


def test_a_plaintext_store_with_a_key_fails_at_start(durable_url: str) -> None:
    """Given a store written without encryption, starting with a key raises at app creation."""
    _record_marker(durable_url, None)

    with pytest.raises(CipherMismatch, match="CONTINUUM_CIPHER_KEY"):
        create_app(_settings(durable_url, KEY))


def test_the_same_key_reopens_the_store(sqlite_url: str) -> None:
    """Restarting with the key the store was written with reads it as before."""
    participant = _record_marker(sqlite_url, KEY)

    with TestClient(create_app(_settings(sqlite_url, KEY)), headers=bearer()) as client:
        assert client.get(f"/v1/participants/{participant}").json()["program_id"] == MARKER


def test_a_stray_environment_variable_cannot_switch_the_cipher_on(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library would read CONTINUUM_CIPHER_KEY / CIPHER_KEY from os.environ itself; the
    settings decide instead: with cipher_key=None the store stays plaintext."""
    monkeypatch.setenv("CONTINUUM_CIPHER_KEY", KEY)
    monkeypatch.setenv("CIPHER_KEY", KEY)
    monkeypatch.setenv("CONTINUUM_CIPHER_TOPIC", "eventsourcing.cipher:AESCipher")

    _record_marker(sqlite_url, None)

    assert [s for s in _raw_sqlite(sqlite_url) if MARKER.encode() in s]


def test_settings_read_the_key_and_refuse_a_malformed_one() -> None:
    """CONTINUUM_CIPHER_KEY is read once into Settings; a value that is not 16, 24 or 32
    base64 bytes is refused at start, naming the variable."""
    assert Settings.from_env({"CONTINUUM_CIPHER_KEY": KEY}).cipher_key == KEY
    for bad in ("not base64!", "c2hvcnQ=", KEY + "AAAA"):
        with pytest.raises(SettingsError, match="CONTINUUM_CIPHER_KEY"):
            Settings.from_env({"CONTINUUM_CIPHER_KEY": bad})


def test_the_key_never_shows_in_settings_repr() -> None:
    """Secrets are left out of the settings' repr (which a crash report may print)."""
    text = repr(_settings("memory://", KEY))

    assert KEY not in text
    assert TEST_JWT_SECRET not in text


def test_cipher_key_command_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    """`continuum cipher-key` prints a fresh 32-byte key the settings accept."""
    assert main(["cipher-key"]) == 0

    key = capsys.readouterr().out.strip()
    assert Settings.from_env({"CONTINUUM_CIPHER_KEY": key}).cipher_key == key
