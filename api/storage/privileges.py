"""Least privilege: the append-only guards of the logs, and the owner and runtime roles.

The events, the access log and the disclosure log are records (42 CFR 2.16 and HIPAA 45 CFR
164.312(b) ask that such records be protected from alteration and kept): nothing in the
service updates or deletes them, and the database refuses to as well.

- Guards: a trigger before UPDATE or DELETE of a row and one before TRUNCATE on each of them
  (SQLite: UPDATE and DELETE, it has no TRUNCATE). The guard lets a statement through only
  when the transaction set `continuum.maintenance` to `on` *and* the current role is a member
  of the table's owner role: the documented way for the owner to rewrite rows (re-encrypting
  under a new key) is `BEGIN; SET LOCAL continuum.maintenance = 'on'; ...; COMMIT;`. A runtime
  role setting it gains nothing: it is not the owner, and it holds no UPDATE/DELETE/TRUNCATE
  grant either. On SQLite, whoever can write the file can drop the triggers: they stop
  mistakes and stray scripts, not the file's owner.
- Roles (`continuum db-setup`, PostgreSQL): an *owner* role that owns every table and function
  (it runs the migrations: tables are created when the store is opened as it), and a *runtime*
  role the service connects as. The runtime role owns nothing, so it cannot drop, alter or
  disable a trigger; on the three logs, the idempotency receipts and the snapshots it may only
  SELECT and INSERT; on the views, their tracking rows and the feed's checkpoints it may also
  UPDATE and DELETE (they are rebuilt from the log). The events are appended through the
  append functions, which run as their owner (SECURITY DEFINER, fixed search_path) because
  appends take the events table's EXCLUSIVE lock, which PostgreSQL grants only with UPDATE,
  DELETE or TRUNCATE privileges the runtime role must not have.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.sql import SQL, Composed, Identifier

from domain.application import ContinuumApplication

MAINTENANCE_SETTING = "continuum.maintenance"

# The append-only tables on PostgreSQL (their names in the public schema by default).
POSTGRES_LOGS = ("continuum_events", "continuum_access_log", "continuum_disclosures")
# Tables the runtime role may only read and insert into.
POSTGRES_INSERT_ONLY = (*POSTGRES_LOGS, "continuum_idempotency", "continuum_snapshots")

_GUARD_BODY = (
    "$$ BEGIN "
    "IF current_setting('" + MAINTENANCE_SETTING + "', true) = 'on' AND EXISTS ("
    "SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID "
    "AND pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')) THEN "
    "IF TG_LEVEL = 'ROW' AND TG_OP = 'DELETE' THEN RETURN OLD; END IF; "
    "RETURN NEW; END IF; "
    "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; "
    "END $$"
)


def postgres_guards(schema: str, table: str) -> list[Composed]:
    """The guard function and triggers of one append-only table (idempotent statements)."""
    function = Identifier(schema), Identifier(f"{table}_append_only")
    target = Identifier(schema), Identifier(table)
    return [
        SQL(
            "CREATE OR REPLACE FUNCTION {}.{}() RETURNS trigger LANGUAGE plpgsql AS " + _GUARD_BODY
        ).format(*function),
        SQL(
            "CREATE OR REPLACE TRIGGER {} BEFORE UPDATE OR DELETE ON {}.{} "
            "FOR EACH ROW EXECUTE FUNCTION {}.{}()"
        ).format(Identifier(f"{table}_append_only"), *target, *function),
        SQL(
            "CREATE OR REPLACE TRIGGER {} BEFORE TRUNCATE ON {}.{} "
            "FOR EACH STATEMENT EXECUTE FUNCTION {}.{}()"
        ).format(Identifier(f"{table}_no_truncate"), *target, *function),
    ]


def sqlite_guards(table: str, what: str) -> list[str]:
    """UPDATE and DELETE triggers refusing any change to `table` (`what` names it in errors)."""
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} "
        f"BEFORE {operation} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{what} is append-only'); END"
        for operation in ("UPDATE", "DELETE")
    ]


def suspend_postgres_guards(cursor: Any) -> None:
    """In the owner's transaction on `cursor`: let this transaction rewrite the logs (key
    rotation). Transaction-local (SET LOCAL): it ends with the transaction, and the guards
    honour it only for members of the tables' owner role."""
    cursor.execute(f"SET LOCAL {MAINTENANCE_SETTING} = 'on'")


@contextmanager
def sqlite_guards_suspended(cursor: Any, table: str, what: str) -> Iterator[None]:
    """Within one SQLite transaction on `cursor`: drop `table`'s guards, and create them again
    before it commits (SQLite's DDL is transactional: no other connection sees them gone)."""
    for operation in ("update", "delete"):
        cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
    yield
    for guard in sqlite_guards(table, what):
        cursor.execute(guard)


# ---- connecting role --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectedRole:
    name: str
    superuser: bool
    owns_tables: bool  # a member of the events table's owner (or the table does not exist yet)


def connected_role(settings: Mapping[str, str]) -> ConnectedRole:
    """Who a PostgreSQL store's connections (its library `settings`) run as, and whether that
    role may create and alter tables."""
    schema = settings.get("POSTGRES_SCHEMA", "public")
    events_table = f"{ContinuumApplication.name.lower()}_events"
    with psycopg.connect(conninfo(settings), autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_user, r.rolsuper, coalesce((SELECT pg_has_role(current_user, "
            "c.relowner, 'USAGE') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s), true) "
            "FROM pg_roles r WHERE r.rolname = current_user",
            (schema, events_table),
        ).fetchone()
    assert row is not None
    return ConnectedRole(name=str(row[0]), superuser=bool(row[1]), owns_tables=bool(row[2]))


def conninfo(settings: Mapping[str, str], **overrides: str) -> str:
    """A libpq connection string from a PostgreSQL store's library settings."""
    return make_conninfo(
        **{
            "dbname": settings["POSTGRES_DBNAME"],
            "host": settings["POSTGRES_HOST"],
            "port": settings["POSTGRES_PORT"],
            "user": settings["POSTGRES_USER"],
            "password": settings["POSTGRES_PASSWORD"],
            "connect_timeout": settings.get("POSTGRES_CONNECT_TIMEOUT", "5"),
            **overrides,
        }
    )


# ---- roles ------------------------------------------------------------------------------------


def create_roles(
    admin_conninfo: str,
    *,
    database: str,
    schema: str,
    owner: str,
    owner_password: str | None,
    runtime: str,
    runtime_password: str | None,
) -> None:
    """Create (or update) the owner and runtime roles; run as a superuser (or CREATEROLE).

    The owner gets the database's schema to create its tables in; run the migrations as the
    owner next (open the store with its URL), then `grant_runtime` as the owner.
    """
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        for role, password in ((owner, owner_password), (runtime, runtime_password)):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS "
                    "PASSWORD {}").format(Identifier(role), sql.Literal(password))
            )  # fmt: skip
        conn.execute(
            SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(
                Identifier(database), Identifier(owner), Identifier(runtime)
            )
        )
        conn.execute(
            SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(
                Identifier(schema), Identifier(owner)
            )
        )
        conn.execute(
            SQL("GRANT USAGE ON SCHEMA {} TO {}").format(Identifier(schema), Identifier(runtime))
        )
        # The runtime role creates nothing, anywhere (PostgreSQL 14 and older grant CREATE on
        # the public schema to every role).
        conn.execute(SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(Identifier(schema)))


def grant_runtime(owner_conninfo: str, *, schema: str, runtime: str) -> None:
    """As the owner, after its tables exist: the runtime role's grants (see the module doc).

    Tables the owner creates later (a rebuild's fresh view tables) get read and write grants
    by default; the append-only tables are created once, here revoked to SELECT and INSERT.
    """
    s, r = Identifier(schema), Identifier(runtime)
    with psycopg.connect(owner_conninfo, autocommit=True) as conn:
        statements = [
            SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}"),
            SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}"),
            SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {} "
                "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
            ),
            SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT USAGE, SELECT ON SEQUENCES TO {}"),
        ]
        for statement in statements:
            conn.execute(statement.format(s, r))
        for table in POSTGRES_INSERT_ONLY:
            conn.execute(
                SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {}.{} FROM {}").format(
                    s, Identifier(table), r
                )
            )
