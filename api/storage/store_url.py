"""Turns CONTINUUM_DATABASE_URL into the eventsourcing library's own persistence settings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from eventsourcing.utils import get_topic

from api.storage.cipher import cipher_settings
from api.storage.recorders import (
    MemoryFactory,
    PostgresIdempotentRecorder,
    SQLiteIdempotentRecorder,
)

DEFAULT_SQLITE_PATH = Path("var") / "continuum.sqlite3"
STORE_WAIT_SECONDS = 2


class StoreURLError(ValueError):
    """CONTINUUM_DATABASE_URL names no store we can open."""


@dataclass(frozen=True)
class Store:
    """Where events live: the backend kind and the library settings that open it."""

    kind: str  # "sqlite", "postgres" or "memory"
    settings: dict[str, str]
    display: str  # the URL without its password, safe to log
    encrypted: bool = False  # events and snapshots stored with AES (CONTINUUM_CIPHER_KEY)

    @property
    def is_durable(self) -> bool:
        return self.kind != "memory"


def parse_store_url(url: str | None, *, pool_size: int = 5, cipher_key: str | None = None) -> Store:
    """Library settings for a `sqlite:///…`, `postgresql://…` or `memory://` URL.

    `cipher_key` (CONTINUUM_CIPHER_KEY) stores events and snapshots encrypted; without it the
    cipher is explicitly off (see api.storage.cipher).
    """
    store = _parse(url, pool_size)
    return replace(
        store,
        settings={**store.settings, **cipher_settings(cipher_key)},
        encrypted=bool(cipher_key),
    )


def _parse(url: str | None, pool_size: int) -> Store:
    if not url:
        url = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        return Store("memory", {"PERSISTENCE_MODULE": get_topic(MemoryFactory)}, "memory://")
    if scheme == "sqlite":
        return _sqlite(url)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return _postgres(url, pool_size)
    raise StoreURLError(
        f"unsupported CONTINUUM_DATABASE_URL scheme {scheme!r}: "
        "use sqlite:///path, postgresql://… or memory://"
    )


def _sqlite(url: str) -> Store:
    if not url.startswith("sqlite:///"):
        raise StoreURLError("SQLite URLs are sqlite:///relative/path or sqlite:////absolute/path")
    path = url.removeprefix("sqlite:///")
    if path in ("", ":memory:"):
        raise StoreURLError("an in-memory SQLite store is spelled memory://")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Store(
        "sqlite",
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "10",
            "APPLICATION_RECORDER_TOPIC": get_topic(SQLiteIdempotentRecorder),
        },
        url,
    )


def _postgres(url: str, pool_size: int) -> Store:
    parts = urlsplit(url)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise StoreURLError("a PostgreSQL URL must name its database: postgresql://host/dbname")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    settings = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname or query.get("host", "127.0.0.1"),
        "POSTGRES_PORT": str(parts.port or query.get("port", 5432)),
        "POSTGRES_USER": unquote(parts.username or query.get("user", "postgres")),
        "POSTGRES_PASSWORD": unquote(parts.password or query.get("password", "")),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        # How long a request waits for a connection: while the server is down or restarting,
        # a request is answered 503 after this, never held for the whole outage.
        "POSTGRES_CONNECT_TIMEOUT": query.get("connect_timeout", str(STORE_WAIT_SECONDS)),
        "POSTGRES_LOCK_TIMEOUT": "5",
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_SCHEMA": query.get("schema", "public"),
        "APPLICATION_RECORDER_TOPIC": get_topic(PostgresIdempotentRecorder),
    }
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return Store("postgres", settings, f"postgresql://{netloc}/{dbname}")
