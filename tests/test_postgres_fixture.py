"""The shared database fixtures: each test gets its own empty database, and loses it afterwards."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

CONFTEST = Path(__file__).with_name("conftest.py")


def _database_exists(server_url: str, dbname: str) -> bool:
    with psycopg.connect(server_url, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
    return row is not None


def test_postgres_url_is_a_new_empty_database(postgres_url: str, postgres_server: str) -> None:
    """The URL names a continuum_test_* database that exists and holds no tables yet."""
    dbname = postgres_url.rsplit("/", 1)[1]
    assert postgres_url.startswith("postgresql://")
    assert dbname.startswith("continuum_test_")
    assert _database_exists(postgres_server, dbname)
    with psycopg.connect(postgres_url) as conn:
        current = conn.execute("SELECT current_database()").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
    assert current == (dbname,)
    assert tables == (0,)


def test_postgres_database_is_dropped_after_the_test(
    pytester: pytest.Pytester, postgres_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given tests that write a table or leave a connection open, when they end, their databases
    are gone.

    Runs a real inner pytest session with this conftest.py, on this session's server, so the
    fixture's own teardown is what is checked.
    """
    monkeypatch.setenv("CONTINUUM_TEST_POSTGRES_URL", postgres_server)
    monkeypatch.setenv("CONTINUUM_TEST_POSTGRES_DISCOVERY", "auto")
    record = pytester.path / "dbnames.txt"
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        f"""
        import psycopg

        LEAKED = []

        def remember(url):
            with open({str(record)!r}, "a") as f:
                f.write(url.rsplit("/", 1)[1] + "\\n")

        def test_writes_a_table(postgres_url):
            remember(postgres_url)
            with psycopg.connect(postgres_url) as conn:
                conn.execute("CREATE TABLE t (x int)")
                conn.execute("INSERT INTO t VALUES (1)")

        def test_leaves_a_connection_open(postgres_url):
            remember(postgres_url)
            LEAKED.append(psycopg.connect(postgres_url))
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    dbnames = record.read_text().split()
    assert len(set(dbnames)) == 2, "each test has its own database"
    for dbname in dbnames:
        assert dbname.startswith("continuum_test_")
        assert not _database_exists(postgres_server, dbname)


def test_sqlite_url_is_an_absolute_sqlalchemy_url(sqlite_url: str, tmp_path: Path) -> None:
    """sqlite:// plus an absolute path: four slashes, in the test's own tmp dir."""
    assert sqlite_url.startswith("sqlite:////")
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    assert path.is_absolute()
    assert path.parent == tmp_path.resolve()


def test_database_url_gives_each_backend(database_url: str) -> None:
    """memory://, a SQLite file URL and a PostgreSQL URL, one per parameter."""
    assert database_url.split(":", 1)[0] in {"memory", "sqlite", "postgresql"}
