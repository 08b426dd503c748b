"""A record read's two looks at PostgreSQL, on the event loop: its access entry and its freshness.

Every read of a participant's record must see each write acknowledged before it began (the API
contract's consistency) and be in the access log before it is served (HIPAA 45 CFR 164.312(b)).
Done in a worker thread, that took a threadpool hand-off per read (83-149 us of CPU measured),
thread wake-ups for the shared looks, and two round trips. When the participant is in this
process's cache, both fit in one statement that needs no thread: "log this read if the
participant's stream is still at the cached version", answered with the version it is at.
The reads that arrive while one such statement is in flight go together in the next one (one
round trip, one commit for all of them); each statement began after its reads arrived, so each
read's look is as fresh as its own would have been.

Measured before it was written (api.bench.ceiling_server's logged read ceiling): reads doing
only this work reached 0.60x of the bare read ceiling over HTTP on this two-core machine, where
the application's timeline read reached 0.19x (docs/performance.md).

A read whose stream moved on, or whose statement failed, writes nothing here and takes the
threaded path (fast-forward, scope check, the access log's own group commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresDatastore
from psycopg.sql import SQL, Identifier

from api.storage.access_log import (
    FIELD_TYPES,
    FIELDS,
    MAX_GROUP,
    AccessEntry,
    PostgresAccessLog,
    stored_values,
)
from api.storage.grouped_calls import GroupedCalls
from api.storage.recordsets import recordset_columns, recordset_json
from projections.view_store import ViewStore

# A wanted row's columns and their types: its place in the group, the access entry's FIELDS
# as stored, and the stream version the read expects.
_WANTED_TYPES = {"n": "int", **FIELD_TYPES, "expected": "bigint"}
_WANTED = tuple(_WANTED_TYPES)
# How the gate's connections show in pg_stat_activity (as the views' listener's do).
APPLICATION_NAME = "continuum-read-gate"


@dataclass(frozen=True)
class GateLooks:
    """What a read asks the gate's statement besides its entry and its stream's version: the
    views' tracking rows, and whether `policy` (a stream id and the version kept of it) has
    grown (a compliance read asks both, api.routes.views)."""

    views: bool = False
    policy: tuple[UUID, int] | None = None

    @property
    def beyond_the_entry(self) -> bool:
        """Whether the statement must look at anything besides the entry and the version."""
        return self.views or self.policy is not None


@dataclass(frozen=True)
class GateAnswer:
    """A logged read's entry (with its id), and what it asked beside it."""

    entry: AccessEntry
    tracked: dict[str, int]
    policy: tuple[UUID, int] | None  # as asked
    grown: bool  # whether `policy`'s stream has events past the version asked about


@dataclass(frozen=True)
class _Waiting:
    entry: AccessEntry
    version: int
    looks: GateLooks


class PostgresReadGate:
    """`log_if_current(entry, version)`: the entry, committed, if the participant's stream is at
    `version` when a statement that began after this call runs; None (nothing written) if not.

    One connection per process, opened on first use on the event loop and dropped after any
    error (the next statement opens another). Use it from one event loop.
    """

    def __init__(
        self, access_log: PostgresAccessLog, events_table: str, views: ViewStore | None = None
    ) -> None:
        self.access_log = access_log
        self.datastore: PostgresDatastore = access_log.datastore
        schema = Identifier(self.datastore.schema)
        events = Identifier(events_table)
        # The group's reads arrive as one JSON parameter of rows (n, the entry's FIELDS, the
        # expected version): api.storage.recordsets says why not an array per column.
        # Rows of (what, key, value): each logged entry's id in group order, then each
        # participant's stream version (NULL: no stream).
        statement = SQL(
            "WITH wanted AS (SELECT * FROM json_to_recordset(%s::json) AS w({wanted})), "
            "current AS (SELECT p.id, (SELECT max(e.originator_version) "
            "FROM {schema}.{events} e WHERE e.originator_id = p.id) AS version "
            "FROM (SELECT DISTINCT participant_id AS id FROM wanted) p), "
            "logged AS (INSERT INTO {schema}.{log} ({fields}) SELECT {w_fields} FROM wanted w "
            "JOIN current c ON c.id = w.participant_id WHERE c.version = w.expected "
            "ORDER BY w.n RETURNING id) "
            "SELECT 'logged' AS what, NULL AS key, id AS value FROM logged "
            "UNION ALL SELECT 'version', id::text, version FROM current"
        ).format(
            wanted=recordset_columns(_WANTED_TYPES),
            fields=SQL(", ").join(Identifier(f) for f in FIELDS),
            w_fields=SQL(", ").join(SQL("w.") + Identifier(f) for f in FIELDS),
            schema=schema,
            events=events,
            log=Identifier(access_log.table_name),
        )
        self.statement = statement.as_bytes(None)
        # With the views' tracking rows and the growth of the streams asked about, too.
        look = views.tracking_look(self.datastore) if views is not None else None
        self.views_statement: bytes | None = None
        self.tracking_params: tuple[str, ...] = ()
        if look is not None:
            tracking, self.tracking_params = look
            self.views_statement = (
                SQL(
                    "{} UNION ALL SELECT 'tracked', t.application_name, t.notification_id "
                    "FROM ({}) t UNION ALL SELECT 'grown', g.id::text, g.kept "
                    "FROM unnest(%s::uuid[], %s::bigint[]) AS g(id, kept) WHERE EXISTS "
                    "(SELECT 1 FROM {}.{} e WHERE e.originator_id = g.id "
                    "AND e.originator_version > g.kept)"
                )
                .format(statement, tracking, schema, events)
                .as_bytes(None)
            )
        self._groups: GroupedCalls[_Waiting, GateAnswer | None] = GroupedCalls(self._run, MAX_GROUP)
        self._connection: psycopg.AsyncConnection[Any] | None = None

    @property
    def connection(self) -> psycopg.AsyncConnection[Any] | None:
        """The connection the next statement runs on, if one is open (for tracing tools)."""
        return self._connection

    @property
    def looks_at_views(self) -> bool:
        """Whether `GateLooks(views=True)` can be asked (the views live in this database)."""
        return self.views_statement is not None

    async def log_if_current(
        self, entry: AccessEntry, version: int, looks: GateLooks = GateLooks()
    ) -> GateAnswer | None:
        if looks.beyond_the_entry and not self.looks_at_views:
            raise ValueError("this gate does not look at the views")
        return await self._groups.call(_Waiting(entry, version, looks))

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def _run(self, group: Sequence[_Waiting]) -> list[GateAnswer | None]:
        rows_wanted = (
            (n, *stored_values(self.access_log.cells, w.entry), w.version)
            for n, w in enumerate(group)
        )
        params: list[Any] = [recordset_json(_WANTED, rows_wanted)]
        statement = self.statement
        if any(w.looks.beyond_the_entry for w in group):
            assert self.views_statement is not None  # log_if_current checked
            statement = self.views_statement
            policies = list({w.looks.policy for w in group if w.looks.policy is not None})
            params += [*self.tracking_params, [p[0] for p in policies], [p[1] for p in policies]]
        try:
            connection = self._connection
            if connection is None:
                connection = self._connection = await self._connect()
            cursor = await connection.execute(statement, params, prepare=True)
            rows = await cursor.fetchall()
        except BaseException:
            await self.close()
            raise
        ids = sorted(int(value) for what, _, value in rows if what == "logged")
        at = {UUID(key): value for what, key, value in rows if what == "version"}
        tracked = {key: int(value) for what, key, value in rows if what == "tracked"}
        grown = {(UUID(key), int(value)) for what, key, value in rows if what == "grown"}
        # The inserted rows took their ids in group order (ORDER BY w.n): the logged entries,
        # in that order, have the ids in ascending order.
        answers: list[GateAnswer | None] = []
        next_id = iter(ids)
        for waiting in group:
            current = at.get(waiting.entry.participant_id)
            if current is None or current != waiting.version:
                answers.append(None)
                continue
            policy = waiting.looks.policy
            answers.append(
                GateAnswer(
                    entry=replace(waiting.entry, id=next(next_id)),
                    tracked=tracked,
                    policy=policy,
                    grown=policy in grown,
                )
            )
        return answers

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        """A connection as the datastore's pool makes them: its settings, autocommit."""
        pool = self.datastore.pool
        given = pool.kwargs() if callable(pool.kwargs) else pool.kwargs
        kwargs = {k: v for k, v in (given or {}).items() if k != "row_factory"}
        if pool.get_password_func is not None:
            kwargs["password"] = pool.get_password_func()
        kwargs.setdefault("application_name", APPLICATION_NAME)
        return await psycopg.AsyncConnection.connect(
            str(pool.conninfo or ""), autocommit=True, connect_timeout=5, **kwargs
        )


def read_gate_for(
    recorder: object, access_log: object, views: ViewStore | None = None
) -> PostgresReadGate | None:
    """The gate, when the access log and the events are in one PostgreSQL database (looking
    at `views` too when they are there as well); else None (SQLite and the in-memory store
    keep the threaded path)."""
    if (
        isinstance(access_log, PostgresAccessLog)
        and isinstance(recorder, PostgresAggregateRecorder)
        and recorder.datastore is access_log.datastore
    ):
        return PostgresReadGate(access_log, recorder.events_table_name, views)
    return None
