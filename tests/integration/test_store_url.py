"""CONTINUUM_DATABASE_URL parsing: each scheme gives the library's settings for its backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.storage.recorders import (
    MemoryFactory,
    PostgresIdempotentRecorder,
    SQLiteIdempotentRecorder,
)
from api.storage.store_url import StoreURLError, parse_store_url
from domain.application import ContinuumApplication


def test_sqlite_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite:///var/app.db (three slashes) is a path relative to the working directory, and its
    directory is created."""
    monkeypatch.chdir(tmp_path)
    store = parse_store_url("sqlite:///var/app.db")
    assert store.kind == "sqlite"
    assert store.settings["SQLITE_DBNAME"] == "var/app.db"
    assert store.settings["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert store.settings["APPLICATION_RECORDER_TOPIC"].endswith(SQLiteIdempotentRecorder.__name__)
    assert (tmp_path / "var").is_dir()
    assert store.is_durable


def test_sqlite_absolute_path(tmp_path: Path) -> None:
    """sqlite:////abs/path (four slashes) is an absolute path."""
    target = tmp_path / "data" / "continuum.sqlite3"
    store = parse_store_url(f"sqlite:///{target}")
    assert store.settings["SQLITE_DBNAME"] == str(target)
    assert Path(store.settings["SQLITE_DBNAME"]).is_absolute()
    assert target.parent.is_dir()


def test_sqlite_url_opens_a_working_app(sqlite_url: str) -> None:
    """The settings from a SQLite URL open an application whose file is created on disk."""
    store = parse_store_url(sqlite_url)
    app = ContinuumApplication(env=store.settings)
    try:
        assert Path(store.settings["SQLITE_DBNAME"]).exists()
        assert app.recorder.max_notification_id() in (None, 0)
    finally:
        app.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:/x.db"])
def test_sqlite_urls_without_a_file_are_refused(url: str) -> None:
    """A SQLite URL with no file path (or the :memory: special) is a StoreURLError: in-memory is
    spelled memory://."""
    with pytest.raises(StoreURLError):
        parse_store_url(url)


def test_postgres_url_with_password_port_and_database() -> None:
    """postgresql://user:pw@host:5433/db gives every connection setting; the password is in the
    settings but never in `display`."""
    store = parse_store_url("postgresql://continuum:s3cr%40t@db.internal:5433/journeys")
    assert store.kind == "postgres"
    settings = store.settings
    assert settings["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert settings["POSTGRES_HOST"] == "db.internal"
    assert settings["POSTGRES_PORT"] == "5433"
    assert settings["POSTGRES_USER"] == "continuum"
    assert settings["POSTGRES_PASSWORD"] == "s3cr@t"
    assert settings["POSTGRES_DBNAME"] == "journeys"
    assert settings["APPLICATION_RECORDER_TOPIC"].endswith(PostgresIdempotentRecorder.__name__)
    assert "s3cr" not in store.display
    assert store.display == "postgresql://continuum@db.internal:5433/journeys"
    assert store.is_durable


def test_postgres_defaults_and_pool_size() -> None:
    """Without port or user the defaults are 5432 and postgres; the pool size is passed on."""
    store = parse_store_url("postgres://localhost/journeys", pool_size=3)
    assert store.settings["POSTGRES_PORT"] == "5432"
    assert store.settings["POSTGRES_USER"] == "postgres"
    assert store.settings["POSTGRES_PASSWORD"] == ""
    assert store.settings["POSTGRES_POOL_SIZE"] == "3"
    assert store.display == "postgresql://localhost/journeys"


def test_postgres_url_without_a_database_is_refused() -> None:
    """A PostgreSQL URL must name its database."""
    with pytest.raises(StoreURLError):
        parse_store_url("postgresql://user:pw@localhost:5432/")


def test_postgres_url_opens_a_working_app(postgres_url: str) -> None:
    """The settings from a PostgreSQL URL open an application on that database."""
    app = ContinuumApplication(env=parse_store_url(postgres_url, pool_size=2).settings)
    try:
        assert app.recorder.max_notification_id() in (None, 0)
    finally:
        app.close()


def test_memory_url() -> None:
    """memory:// is the in-memory store with idempotency receipts; it is not durable."""
    store = parse_store_url("memory://")
    assert store.kind == "memory"
    assert store.settings["PERSISTENCE_MODULE"].endswith(MemoryFactory.__name__)
    assert store.display == "memory://"
    assert not store.is_durable


@pytest.mark.parametrize(
    "url",
    ["mysql://user@host/db", "http://example.org/db", "redis://localhost", "continuum", "file:x"],
)
def test_unsupported_schemes_are_refused(url: str) -> None:
    """A scheme other than sqlite, postgresql or memory is a StoreURLError naming the scheme."""
    with pytest.raises(StoreURLError, match="scheme"):
        parse_store_url(url)


def test_store_url_error_is_a_value_error() -> None:
    """StoreURLError is a ValueError, so settings validation can treat it as bad input."""
    assert issubclass(StoreURLError, ValueError)


@pytest.mark.parametrize("url", [None, ""])
def test_no_url_means_the_default_sqlite_file(
    url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without CONTINUUM_DATABASE_URL the store is var/continuum.sqlite3 under the working
    directory."""
    monkeypatch.chdir(tmp_path)
    store = parse_store_url(url)
    assert store.kind == "sqlite"
    assert store.settings["SQLITE_DBNAME"] == "var/continuum.sqlite3"
