"""Shared fixtures: where the tests find PostgreSQL, and a fresh database for each test.

PostgreSQL is found once per session, first match wins:

1. ``CONTINUUM_TEST_POSTGRES_URL``: a ``postgresql://`` URL whose user may CREATE DATABASE.
2. ``postgresql://postgres@127.0.0.1:5432/postgres``, if it answers within 2 seconds.
3. A private throwaway server started with pytest-postgresql's executor (``pg_ctl`` from PATH or
   ``/usr/lib/postgresql/*/bin``). PostgreSQL refuses to run as root, so as root ``pg_ctl`` runs
   as the ``postgres`` user through ``runuser``.

``CONTINUUM_TEST_POSTGRES_DISCOVERY=private`` skips 1 and 2. When no server can be had, the
PostgreSQL tests are skipped with the reason; with ``CONTINUUM_REQUIRE_POSTGRES=1`` they fail.
Tests that use ``postgres_url`` or ``postgres_server`` are marked ``postgres`` automatically.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from api.bootstrap import Service, open_url
from domain.application import ContinuumApplication

LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TEST_DATABASE_PREFIX = "continuum_test_"


class PostgresUnavailable(Exception):
    """No PostgreSQL server with CREATEDB rights could be found or started."""


def _require_postgres() -> bool:
    return os.environ.get("CONTINUUM_REQUIRE_POSTGRES", "") == "1"


def _check_server(url: str) -> None:
    """Raise PostgresUnavailable unless ``url`` answers and its user may create databases."""
    try:
        with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
            row = conn.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.Error as error:
        raise PostgresUnavailable(f"cannot connect to {_redact(url)}: {error}".strip()) from error
    if not (row and row[0]):
        raise PostgresUnavailable(f"{_redact(url)}: the user may not CREATE DATABASE")


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _find_pg_ctl() -> str:
    """``pg_ctl`` from PATH, else the newest under /usr/lib/postgresql/*/bin (Debian)."""
    found = shutil.which("pg_ctl")
    if found:
        return found

    def major(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/", path)
        return int(match.group(1)) if match else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=major, reverse=True)
    if not candidates:
        raise PostgresUnavailable("no pg_ctl on PATH or under /usr/lib/postgresql/*/bin")
    return candidates[0]


@contextmanager
def _private_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL with pytest-postgresql's executor; yield its URL; stop it."""
    with private_executor() as (url, _):
        yield url


@contextmanager
def private_executor() -> Iterator[tuple[str, Any]]:
    """A throwaway PostgreSQL: its URL and its executor (which the fault tests stop and start
    again, something never done to a shared server)."""
    import port_for
    from pytest_postgresql.executors import PostgreSQLExecutor

    pg_ctl = _find_pg_ctl()
    # Under /tmp (not pytest's 0700 tmp dirs) so the postgres user can reach it; short for the
    # socket path limit.
    base = Path(tempfile.mkdtemp(prefix="continuum-pg-"))
    try:
        if os.geteuid() == 0:
            pg_ctl = _pg_ctl_as_postgres_user(pg_ctl, base)
        port = port_for.select_random()
        executor = PostgreSQLExecutor(
            executable=pg_ctl,
            host="127.0.0.1",
            port=port,
            datadir=str(base / "data"),
            unixsocketdir=str(base),
            logfile=str(base / "postgresql.log"),
            startparams="-w",
            dbname="postgres",
            user="postgres",
        )
        try:
            executor.start()
        except Exception as error:
            log = base / "postgresql.log"
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise PostgresUnavailable(
                f"private server via {pg_ctl} failed to start: {error!r} {tail}".strip()
            ) from error
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres", executor
        finally:
            executor.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _pg_ctl_as_postgres_user(pg_ctl: str, base: Path) -> str:
    """As root: a wrapper that runs ``pg_ctl`` as the ``postgres`` user (initdb refuses root)."""
    runuser = shutil.which("runuser")
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        account = None
    if runuser is None or account is None:
        raise PostgresUnavailable(
            "running as root, and PostgreSQL refuses root: a private server needs `runuser` and "
            "a `postgres` user (or set CONTINUUM_TEST_POSTGRES_URL)"
        )
    os.chown(base, account.pw_uid, account.pw_gid)
    wrapper = base / "pg_ctl-as-postgres"
    # cd first: the caller's directory may be unreadable to the postgres user.
    wrapper.write_text(
        f'#!/bin/sh\ncd "{base}" || exit 1\nexec "{runuser}" -u postgres -- "{pg_ctl}" "$@"\n'
    )
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A ``postgresql://`` URL of a server where the tests may create databases.

    Found or started once per session (see the module docstring). Tests should use
    ``postgres_url`` instead: never create tables in this server's own database.
    """
    discovery = os.environ.get("CONTINUUM_TEST_POSTGRES_DISCOVERY", "auto")
    if discovery not in ("auto", "private"):
        pytest.fail(f"CONTINUUM_TEST_POSTGRES_DISCOVERY={discovery!r}: use 'auto' or 'private'")
    tried: list[str] = []
    explicit = os.environ.get("CONTINUUM_TEST_POSTGRES_URL")
    try:
        if discovery == "auto" and explicit:
            _check_server(explicit)  # set on purpose: no silent fallback if it is wrong
            yield explicit
            return
        if discovery == "auto":
            try:
                _check_server(LOCAL_SERVER_URL)
            except PostgresUnavailable as error:
                tried.append(str(error))
            else:
                yield LOCAL_SERVER_URL
                return
        with _private_server() as url:
            _check_server(url)
            yield url
    except PostgresUnavailable as error:
        tried.append(str(error))
        reason = "PostgreSQL tests cannot run: " + "; ".join(tried)
        if _require_postgres():
            pytest.fail(reason + " (CONTINUUM_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(
            reason + " (set CONTINUUM_TEST_POSTGRES_URL to a server that may CREATE DATABASE)"
        )


def _database_url(server_url: str, dbname: str) -> str:
    """``server_url`` pointed at database ``dbname`` (user, host, port and query kept)."""
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{dbname}"))


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create an empty ``continuum_test_<hex>`` database, yield its URL, then drop it.

    Only ever drops the database it created; ``WITH (FORCE)`` ends connections left open.
    """
    dbname = TEST_DATABASE_PREFIX + secrets.token_hex(8)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        yield _database_url(server_url, dbname)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A ``postgresql://`` URL to a new, empty database of this test's own, dropped afterwards."""
    with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLAlchemy-style URL to a SQLite file in this test's tmp dir (``sqlite:////abs/...``)."""
    return f"sqlite:///{(tmp_path / 'continuum.sqlite3').resolve()}"


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest) -> str:
    """Each backend's ``CONTINUUM_DATABASE_URL`` in turn: ``memory://``, SQLite, PostgreSQL.

    Only the backend of the current parameter is set up (PostgreSQL may skip; see above).
    """
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store_url(database_url: str) -> str:
    """The store `service` opens: every backend, unless a module or folder narrows it."""
    return database_url


@pytest.fixture
def app(service: Service) -> ContinuumApplication:
    return service.application


@pytest.fixture
def service(store_url: str) -> Iterator[Service]:
    """The composition root's service on `store_url`, closed afterwards."""
    with open_url(store_url) as opened:
        yield opened


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a PostgreSQL fixture ``postgres`` (for ``-m "not postgres"``)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "postgres_url" in names or "postgres_server" in names:
            item.add_marker(pytest.mark.postgres)
