"""Least privilege: the runtime role cannot rewrite the logs; the owner can, only on purpose.

On a real PostgreSQL database `continuum db-setup` creates an owner and a runtime role; as the
runtime role every TRUNCATE, UPDATE, DELETE and ALTER TABLE ... DISABLE TRIGGER on the event,
access and disclosure logs fails, while the service runs as it (writes, reads, the access log).
The owner passes the guards only inside a transaction that sets `continuum.maintenance`. Even a
superuser's plain TRUNCATE is refused by the guards; SQLite's event log refuses edits too.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.bootstrap import open_service
from api.cli.db_setup import _as_role
from api.cli.main import main
from api.http.app import create_app
from api.http.dependencies import clock
from api.security.tokens import Role
from api.settings import Settings
from api.storage.privileges import (
    POSTGRES_LOGS,
    sqlite_guards_suspended,
    suspend_postgres_guards,
)
from tests.e2e.support import NOW, TEST_JWT_SECRET, admission, bearer, post, session

# What someone connected as the runtime role would try on each log.
ATTACKS = [
    "TRUNCATE {table}",
    "UPDATE {table} SET {key} = {key}",
    "DELETE FROM {table}",
    "ALTER TABLE {table} DISABLE TRIGGER ALL",
    "ALTER TABLE {table} DISABLE TRIGGER {table}_append_only",
    "DROP TRIGGER {table}_no_truncate ON {table}",
    "DROP TABLE {table}",
]
# Each log's key column (an UPDATE that names a real column, so only the guard can refuse it).
KEYS = {
    "continuum_events": "notification_id",
    "continuum_access_log": "id",
    "continuum_disclosures": "id",
}


@pytest.fixture
def roles(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """`continuum db-setup` run on a store that already holds a participant (created by the
    superuser); yields the owner's and the runtime role's URLs; the roles are dropped after."""
    suffix = uuid4().hex[:8]
    owner, runtime = f"owner_{suffix}", f"runtime_{suffix}"
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", postgres_url)
    monkeypatch.delenv("CONTINUUM_CIPHER_KEY", raising=False)
    monkeypatch.setenv("CONTINUUM_DB_OWNER_PASSWORD", "owner-pw")
    monkeypatch.setenv("CONTINUUM_DB_RUNTIME_PASSWORD", "runtime-pw")
    settings = Settings(database_url=postgres_url, demo=False, jwt_secret=TEST_JWT_SECRET)
    fill_every_log(settings)
    try:
        assert main(["db-setup", "--owner", owner, "--runtime", runtime]) == 0
        yield _as_role(postgres_url, owner, "owner-pw"), _as_role(postgres_url, runtime, "x")
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            for role in (owner, runtime):
                conn.execute(f"DROP OWNED BY {role} CASCADE")
                conn.execute(f"DROP ROLE {role}")


def fill_every_log(settings: Settings) -> None:
    """A row in each log (row triggers fire only on rows: an empty table proves nothing)."""
    with TestClient(create_app(settings), headers=bearer()) as client:
        pid = client.post("/v1/participants", json=admission()).json()["participant_id"]
        assert client.get(f"/v1/participants/{pid}/timeline").status_code == 200
    with psycopg.connect(str(settings.database_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO continuum_disclosures (disclosed_at, recipient, participant_id, "
            "event_ids, channel) VALUES (now(), 'r', %s, '[]', 'feed')",
            (pid,),
        )
        for table in POSTGRES_LOGS:
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() != (0,), table


def refused(url: str, statement: str, *, maintenance: bool = False) -> bool:
    with psycopg.connect(url) as conn:
        try:
            if maintenance:
                suspend_postgres_guards(conn.cursor())
            conn.execute(statement)
        except psycopg.Error:
            return True
        conn.rollback()  # nothing an attack did stays
        return False


def test_the_runtime_role_cannot_rewrite_or_unguard_any_log(roles: tuple[str, str]) -> None:
    _, runtime = roles
    for table in POSTGRES_LOGS:
        for attack in ATTACKS:
            statement = attack.format(table=table, key=KEYS[table])
            assert refused(runtime, statement), statement
            assert refused(runtime, statement, maintenance=True), statement
    with psycopg.connect(runtime) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        assert row == (False,)
        assert conn.execute("SELECT count(*) FROM continuum_events").fetchone() == (2,)


def test_the_owner_passes_the_guards_only_in_a_maintenance_transaction(
    roles: tuple[str, str],
) -> None:
    owner, _ = roles
    for table in POSTGRES_LOGS:
        update = f"UPDATE {table} SET {KEYS[table]} = {KEYS[table]}"
        assert refused(owner, update), table
        assert refused(owner, f"TRUNCATE {table}"), table
        assert not refused(owner, update, maintenance=True), table


def test_the_service_runs_as_the_runtime_role(
    roles: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Writes, reads, the caseload and the feed work; every read is in the access log."""
    _, runtime = roles
    settings = Settings(database_url=runtime, demo=False, jwt_secret=TEST_JWT_SECRET)
    with open_service(settings) as service:
        assert service.role is not None
        assert not service.role.superuser and not service.role.owns_tables
    app = create_app(settings)
    assert "database_superuser" not in capsys.readouterr().out
    app.dependency_overrides[clock] = lambda: NOW
    with TestClient(app, headers=bearer()) as client:
        admitted = client.post("/v1/participants", json=admission())
        assert admitted.status_code == 201, admitted.text
        pid = admitted.json()["participant_id"]
        assert post(client, pid, "sessions", session()).status_code == 201
        assert client.get(f"/v1/participants/{pid}/timeline").status_code == 200
        assert client.get("/v1/events").status_code == 200
        log = client.get(f"/v1/audit/access-log?participant_id={pid}", headers=bearer(Role.AUDITOR))
        assert log.status_code == 200, log.text
        assert log.json()["entries"]


def test_even_a_superuser_cannot_truncate_or_edit_a_log_in_passing(postgres_url: str) -> None:
    """The guards stand on a store set up the default way (no roles): a plain TRUNCATE,
    UPDATE or DELETE of any log fails, the disclosure log's TRUNCATE included."""
    fill_every_log(Settings(database_url=postgres_url, demo=False, jwt_secret=TEST_JWT_SECRET))
    for table in POSTGRES_LOGS:
        for attack in ATTACKS[:3]:
            statement = attack.format(table=table, key=KEYS[table])
            assert refused(postgres_url, statement), statement
        update = f"UPDATE {table} SET {KEYS[table]} = {KEYS[table]}"
        assert not refused(postgres_url, update, maintenance=True), table  # the real column


def test_sqlite_logs_refuse_updates_and_deletes(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, demo=False, jwt_secret=TEST_JWT_SECRET)
    with TestClient(create_app(settings), headers=bearer()) as client:
        pid = client.post("/v1/participants", json=admission()).json()["participant_id"]
        assert client.get(f"/v1/participants/{pid}/timeline").status_code == 200
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute(
            "INSERT INTO disclosures (disclosed_at, recipient, participant_id, event_ids, "
            "channel) VALUES ('2026-01-01', 'r', ?, '[]', 'feed')",
            (pid,),
        )
        for table in ("stored_events", "access_log", "disclosures"):
            key = "rowid"
            for statement in (f"UPDATE {table} SET {key} = {key}", f"DELETE FROM {table}"):
                with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                    db.execute(statement)


def test_sqlite_maintenance_suspends_the_guards_for_one_transaction_only(sqlite_url: str) -> None:
    """Key rotation's way on SQLite: the guards are dropped and made again inside one
    transaction, so the rewrite passes and the next statement is refused again."""
    settings = Settings(database_url=sqlite_url, demo=False, jwt_secret=TEST_JWT_SECRET)
    with TestClient(create_app(settings), headers=bearer()) as client:
        assert client.post("/v1/participants", json=admission()).status_code == 201
    db = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        db.execute("BEGIN")
        with sqlite_guards_suspended(db, "stored_events", "the event log"):
            assert db.execute("UPDATE stored_events SET rowid = rowid").rowcount == 2
        db.execute("COMMIT")
        with pytest.raises(sqlite3.DatabaseError, match="the event log is append-only"):
            db.execute("UPDATE stored_events SET rowid = rowid")
    finally:
        db.close()


def test_the_service_warns_at_start_when_connected_as_a_superuser(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        database_url=postgres_url, demo=False, jwt_secret=TEST_JWT_SECRET, log_format="json"
    )
    with TestClient(create_app(settings)):
        pass
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "{" in line]
    [warning] = [line for line in lines if line.get("event") == "database_superuser"]
    assert warning["level"] == "warning" and warning["fix"] == "continuum db-setup"


def test_db_setup_refuses_in_one_line_without_passwords_or_postgresql(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", sqlite_url)
    assert main(["db-setup"]) == 2
    assert capsys.readouterr().err.strip().endswith("needs a PostgreSQL CONTINUUM_DATABASE_URL")
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x")
    monkeypatch.delenv("CONTINUUM_DB_OWNER_PASSWORD", raising=False)
    monkeypatch.setenv("CONTINUUM_DB_RUNTIME_PASSWORD", "pw")
    assert main(["db-setup"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "CONTINUUM_DB_OWNER_PASSWORD" in err
