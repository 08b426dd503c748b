"""The HTTP ceilings: what the framework and server alone leave, served like `continuum serve`.

Same framework (FastAPI on uvicorn), same worker count, same token verifier and the same
request schema as the real routes, so the real rows can be given as a ratio of these:

- write ceiling: POST /v1/participants/{id}/sessions verifies the JWT, validates the body
  with the route's own `SessionRequest`, and does one INSERT + COMMIT of an event-shaped row;
- read ceiling: GET /v1/participants/{id}/timeline (and /compliance) verifies the JWT and
  answers bytes held in memory: the real route's rendered body, captured by the bench;
- logged read ceiling: GET /logged/v1/participants/{id}/timeline does what the API contract
  asks of every record read before it is served, and nothing else: the access entry committed
  (HIPAA 45 CFR 164.312(b)) and a look at the participant's stream version that began after
  the read arrived (read-your-writes), then the same bytes. PostgreSQL only, the cheapest way
  we know: on the event loop with no thread hand-off, the entries and looks of the reads that
  arrive while one statement is in flight going together in the next (one INSERT ...
  RETURNING and one index look, one commit). It bounds
  what any logged, read-your-writes read can reach on the machine, so the real rows' ratio to
  the read ceiling splits into what the contract costs and what the application adds.

    python -m api.bench.ceiling_server --port P --workers N

Configured from the environment (so each uvicorn worker builds the same app):
CONTINUUM_JWT_SECRET, CONTINUUM_CEILING_DATABASE (a psycopg conninfo URL, or a SQLite file
path), CONTINUUM_CEILING_BODIES (a JSON file: {"timeline": text, "compliance": text}).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg.sql import SQL, Identifier

from api.bench.ceiling import create_table as create_scratch_table
from api.logging import configure_logging
from api.schemas.participants import SessionRequest
from api.security.tokens import Claims, InvalidToken, TokenVerifier
from api.storage.access_log import FIELD_TYPES, FIELDS
from api.storage.grouped_calls import GroupedCalls
from api.storage.recordsets import recordset_columns, recordset_json

CEILING_TABLE = "ceiling_events"
PG_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {CEILING_TABLE} (originator_id uuid NOT NULL, "
    "originator_version bigserial, topic text, state bytea, "
    "notification_id bigserial UNIQUE, PRIMARY KEY (originator_id, originator_version))"
)
SQLITE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {CEILING_TABLE} (originator_id TEXT, topic TEXT, state BLOB, "
    "notification_id INTEGER PRIMARY KEY AUTOINCREMENT)"
)
ACCESS_TABLE = "ceiling_access_log"
# The application's access log's columns (api.storage.access_log), the id assigned by the database.
PG_ACCESS_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {ACCESS_TABLE} (id bigserial PRIMARY KEY, "
    + ", ".join(f"{name} {kind}" for name, kind in FIELD_TYPES.items())
    + ")"
)
# The logged read ceiling's paths: the real route's path under this prefix (PostgreSQL only).
LOGGED_PREFIX = "/logged"
# Entries and looks one statement carries at most (as the application's access log groups).
MAX_GROUP = 256
TOPIC = "domain.participant:Participant.SessionRecorded"
# The application's pool size per process (api.bootstrap's default): one connection per
# concurrent request the threadpool runs.
POOL_SIZE = 10
bearer = HTTPBearer(auto_error=False)


def create_table(database: str) -> None:
    kind = "postgres" if is_postgres(database) else "sqlite"
    create_scratch_table(kind, database, PG_TABLE, SQLITE_TABLE)
    if kind == "postgres":  # the logged read ceiling's (PostgreSQL only)
        create_scratch_table(kind, database, PG_ACCESS_TABLE)


def is_postgres(database: str) -> bool:
    return database.startswith(("postgresql:", "postgres:"))


def _inserter(database: str) -> Callable[[UUID, bytes], None]:
    """One INSERT + COMMIT of an event row, from any threadpool thread."""
    if is_postgres(database):
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(database, min_size=1, max_size=POOL_SIZE, open=True)
        statement = f"INSERT INTO {CEILING_TABLE} (originator_id, topic, state) VALUES (%s, %s, %s)"

        def insert_postgres(participant_id: UUID, state: bytes) -> None:
            with pool.connection() as conn:  # commits on leaving the block
                conn.execute(statement, (participant_id, TOPIC, state), prepare=True)

        return insert_postgres
    local = threading.local()

    def insert_sqlite(participant_id: UUID, state: bytes) -> None:
        db = getattr(local, "db", None)
        if db is None:
            db = local.db = sqlite3.connect(database, isolation_level=None, timeout=30)
            db.execute("PRAGMA busy_timeout=30000")
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            f"INSERT INTO {CEILING_TABLE} (originator_id, topic, state) VALUES (?, ?, ?)",
            (str(participant_id), TOPIC, state),
        )
        db.execute("COMMIT")

    return insert_sqlite


class GroupedLoggedLooks:
    """The logged read ceiling's work on PostgreSQL: each read's access entry committed and
    its participant's stream version looked up, in a statement that began after it arrived.

    On the event loop (psycopg's async connection, no thread hand-off); the reads that arrive
    while a statement is in flight go together in the next one (one round trip, one commit),
    as the application's access log groups its commits and its freshness reads share a look.
    """

    # The entries as one JSON parameter, as the application's read gate sends them
    # (api.storage.recordsets: cheaper than an array per column).
    STATEMENT = (
        SQL(
            "WITH wanted AS (SELECT * FROM json_to_recordset(%s::json) AS w({columns})), "
            "logged AS (INSERT INTO {table} ({fields}) SELECT {fields} FROM wanted) "
            "SELECT p.id, (SELECT max(originator_version) FROM {events} e "
            "WHERE e.originator_id = p.id) AS version "
            "FROM (SELECT DISTINCT participant_id AS id FROM wanted) p"
        )
        .format(
            columns=recordset_columns(FIELD_TYPES),
            table=Identifier(ACCESS_TABLE),
            fields=SQL(", ").join(Identifier(f) for f in FIELDS),
            events=Identifier(CEILING_TABLE),
        )
        .as_bytes(None)
    )

    def __init__(self, database: str) -> None:
        self.database = database
        self._groups: GroupedCalls[tuple[Any, ...], int | None] = GroupedCalls(self._run, MAX_GROUP)
        self._connection: Any = None

    async def look(self, entry: tuple[Any, ...]) -> int | None:
        """Once `entry` (the access log's columns, the participant's id fourth) is committed:
        the participant's stream version, from a look that began after this call."""
        return await self._groups.call(entry)

    async def _run(self, entries: Sequence[tuple[Any, ...]]) -> list[int | None]:
        import psycopg

        if self._connection is None:
            self._connection = await psycopg.AsyncConnection.connect(self.database, autocommit=True)
        try:
            cursor = await self._connection.execute(
                self.STATEMENT, (recordset_json(FIELDS, entries),), prepare=True
            )
            rows = await cursor.fetchall()
        except psycopg.OperationalError:
            connection, self._connection = self._connection, None
            await connection.close()
            raise
        versions = {participant: version for participant, version in rows}
        return [versions.get(entry[3]) for entry in entries]


async def verified(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Claims:
    """The token's claims; 401 without a valid one. async, as api.security.identity: a token
    seen before is a dictionary lookup."""
    verifier: TokenVerifier = request.app.state.verifier
    if credentials is None:
        raise HTTPException(401)
    try:
        return verifier.verify(credentials.credentials)
    except InvalidToken:
        raise HTTPException(401) from None


Verified = Annotated[Claims, Depends(verified)]


def create_app() -> FastAPI:
    verifier = TokenVerifier(secret=os.environ["CONTINUUM_JWT_SECRET"])
    database = os.environ["CONTINUUM_CEILING_DATABASE"]
    insert = _inserter(database)
    bodies = json.loads(Path(os.environ["CONTINUUM_CEILING_BODIES"]).read_text())
    timeline = bodies["timeline"].encode()
    compliance = bodies["compliance"].encode()
    app = FastAPI()
    app.state.verifier = verifier

    @app.post("/v1/participants/{participant_id}/sessions", status_code=201)
    def write(participant_id: UUID, body: SessionRequest, _claims: Verified) -> dict[str, str]:
        insert(participant_id, body.model_dump_json().encode())
        return {"participant_id": str(participant_id)}

    @app.get("/v1/participants/{participant_id}/timeline")
    async def read_timeline(participant_id: UUID, _claims: Verified) -> Response:
        return Response(content=timeline, media_type="application/json")

    @app.get("/v1/participants/{participant_id}/compliance")
    async def read_compliance(participant_id: UUID, _claims: Verified) -> Response:
        return Response(content=compliance, media_type="application/json")

    if is_postgres(database):
        looks = app.state.logged_looks = GroupedLoggedLooks(database)

        @app.get(LOGGED_PREFIX + "/v1/participants/{participant_id}/timeline")
        async def read_timeline_logged(participant_id: UUID, claims: Verified) -> Response:
            entry = (
                datetime.now(UTC), claims.sub, claims.role.value, participant_id, "timeline",
                "/v1/participants/{participant_id}/timeline", "TREAT", None,
            )  # fmt: skip
            try:
                await looks.look(entry)
            except Exception:
                raise HTTPException(503) from None  # not logged: not served
            return Response(content=timeline, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="ceiling-server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    # As `continuum serve`: the project's log handlers, uvicorn's log_config left alone.
    configure_logging(json=True, level="WARNING")
    uvicorn.run(
        "api.bench.ceiling_server:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
