"""`continuum db-setup`: the owner and runtime roles of a PostgreSQL store (least privilege).

Run once per database, connected (CONTINUUM_DATABASE_URL) as a superuser or a role with
CREATEROLE that owns the database's existing tables:

    CONTINUUM_DB_OWNER_PASSWORD=... CONTINUUM_DB_RUNTIME_PASSWORD=... continuum db-setup

1. creates (or updates) the roles, `continuum_owner` and `continuum_runtime` by default;
2. hands every existing table, sequence and function of the schema to the owner;
3. opens the store as the owner, which runs the migrations (tables, guards, append functions);
4. grants the runtime role what api.storage.privileges describes.

The service then runs with CONTINUUM_DATABASE_URL naming the runtime role; migrations and
maintenance (rebuilds, key rotation) run as the owner. Both passwords are required: a role
created without one could not log in over password authentication.
"""

from __future__ import annotations

import argparse
import os
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg.sql import SQL, Identifier

from api.bootstrap import describe_store, open_service, with_database_url
from api.cli.parsing import EXIT_USAGE, CommandFailed
from api.settings import Settings
from api.storage.privileges import conninfo, create_roles, grant_runtime

OWNER_PASSWORD = "CONTINUUM_DB_OWNER_PASSWORD"
RUNTIME_PASSWORD = "CONTINUUM_DB_RUNTIME_PASSWORD"


def register(commands: Any) -> None:
    setup = commands.add_parser(
        "db-setup", help="PostgreSQL: create the owner and runtime roles and their grants"
    )
    setup.add_argument("--owner", default="continuum_owner", help="the owner role's name")
    setup.add_argument("--runtime", default="continuum_runtime", help="the runtime role's name")
    setup.set_defaults(run=db_setup_command)


def db_setup_command(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    store = describe_store(settings)
    if store.kind != "postgres":
        raise CommandFailed("db-setup needs a PostgreSQL CONTINUUM_DATABASE_URL", EXIT_USAGE)
    passwords = {name: os.environ.get(name, "") for name in (OWNER_PASSWORD, RUNTIME_PASSWORD)}
    missing = [name for name, value in passwords.items() if not value]
    if missing:
        raise CommandFailed(f"db-setup needs {' and '.join(missing)} set", EXIT_USAGE)
    admin = conninfo(store.settings)
    schema = store.settings.get("POSTGRES_SCHEMA", "public")
    create_roles(
        admin,
        database=store.settings["POSTGRES_DBNAME"],
        schema=schema,
        owner=args.owner,
        owner_password=passwords[OWNER_PASSWORD],
        runtime=args.runtime,
        runtime_password=passwords[RUNTIME_PASSWORD],
    )
    hand_over(admin, schema, args.owner)
    as_owner = with_database_url(
        settings, _as_role(str(settings.database_url), args.owner, passwords[OWNER_PASSWORD])
    )
    with open_service(as_owner) as service:
        # Opening the store as the owner creates (or migrates) every table it uses.
        _ = service.access_log, service.disclosure_log, service.views
    grant_runtime(
        conninfo(store.settings, user=args.owner, password=passwords[OWNER_PASSWORD]),
        schema=schema,
        runtime=args.runtime,
    )
    runtime_url = _as_role(str(settings.database_url), args.runtime, "<runtime password>")
    print(f"db-setup: done; serve with CONTINUUM_DATABASE_URL={runtime_url}")
    return 0


def hand_over(admin: str, schema: str, owner: str) -> None:
    """Make `owner` the owner of every table and function in `schema` (a store created before
    the roles belongs to whoever created it)."""
    with psycopg.connect(admin, autocommit=True) as conn:
        for kind, query in _OWNED:
            for (name,) in conn.execute(query, (schema,)).fetchall():
                conn.execute(
                    SQL("ALTER {} {} OWNER TO {}").format(SQL(kind), SQL(name), Identifier(owner))
                )


# What `hand_over` gives away, each listed by its qualified, quoted name: a table as
# format('%I.%I') writes it, a function as regprocedure's text (its own signature).
_OWNED = (
    (
        "TABLE",
        "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
    ),
    (
        "FUNCTION",
        "SELECT p.oid::regprocedure::text FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s",
    ),
)


def _as_role(url: str, role: str, password: str) -> str:
    """`url` with its user and password replaced."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))
