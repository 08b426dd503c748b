"""The HTTP ceilings: what the framework and server alone leave, served like `continuum serve`.

Same framework (FastAPI on uvicorn), same worker count, same token verifier and the same
request schema as the real routes, so the real rows can be given as a ratio of these:

- write ceiling: POST /v1/participants/{id}/sessions verifies the JWT, validates the body
  with the route's own `SessionRequest`, and does one INSERT + COMMIT of an event-shaped row;
- read ceiling: GET /v1/participants/{id}/timeline (and /compliance) verifies the JWT and
  answers bytes held in memory: the real route's rendered body, captured by the bench.

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
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from uuid import UUID

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.bench.ceiling import create_table as create_scratch_table
from api.logging import configure_logging
from api.schemas.participants import SessionRequest
from api.security.tokens import Claims, InvalidToken, TokenVerifier

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
TOPIC = "domain.participant:Participant.SessionRecorded"
# The application's pool size per process (api.bootstrap's default): one connection per
# concurrent request the threadpool runs.
POOL_SIZE = 10
bearer = HTTPBearer(auto_error=False)


def create_table(database: str) -> None:
    kind = "postgres" if _is_postgres(database) else "sqlite"
    create_scratch_table(kind, database, PG_TABLE, SQLITE_TABLE)


def _is_postgres(database: str) -> bool:
    return database.startswith(("postgresql:", "postgres:"))


def _inserter(database: str) -> Callable[[UUID, bytes], None]:
    """One INSERT + COMMIT of an event row, from any threadpool thread."""
    if _is_postgres(database):
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
    insert = _inserter(os.environ["CONTINUUM_CEILING_DATABASE"])
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
