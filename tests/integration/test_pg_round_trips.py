"""Reads of one statement on PostgreSQL take one round trip and keep the prepared statements.

Counted from libpq's own trace of the messages the client sends: each `Sync` (extended
protocol) or `Query` (simple protocol) is one wait for the server. A read wrapped in
BEGIN ... ROLLBACK took three, and psycopg answers every ROLLBACK by deallocating all the
connection's prepared statements (one more round trip, and every statement prepared again
on its next use): the views' position is read on every compliance read.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from psycopg import pq

from api.bootstrap import Service, open_url
from api.storage.access_log import AccessEntry, PostgresAccessLog
from api.storage.recorders import PostgresIdempotentRecorder
from domain.commands import ChangePolicy
from domain.program import program_stream_id
from projections.postgres_views import PostgresViewStore
from projections.view_store import ViewFilter, ViewRow

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def service(postgres_url: str) -> Iterator[Service]:
    # A small pool (at most two connections), every one of them traced by sent_messages.
    with open_url(postgres_url, pool_size=1) as opened:
        yield opened


def sent_messages(datastore: Any, read: Callable[[], object]) -> list[str]:
    """The protocol messages the client sent while `read` ran, on any of the pool's
    connections (libpq's trace, set on every connection the pool can hand out)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "trace"
        with path.open("wb") as trace:
            with ExitStack() as held:  # hold them all at once: the pool rotates them
                connections = [
                    held.enter_context(datastore.get_connection())
                    for _ in range(datastore.pool.max_size)
                ]
            for conn in connections:
                conn.pgconn.trace(trace.fileno())
                conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
            try:
                read()
            finally:
                for conn in connections:
                    conn.pgconn.untrace()
        lines = path.read_text().splitlines()
    # "F<TAB>length<TAB>message and its fields": keep the frontend's (the client's) messages.
    return [line.split("\t", 2)[2] for line in lines if line.startswith("F\t")]


def round_trips(messages: list[str]) -> int:
    return sum(1 for m in messages if m.startswith(("Sync", "Query")))


def test_view_store_reads_are_one_round_trip_each(service: Service) -> None:
    """Given a view with a row, when its position, rows and a filtered selection are read
    (each once before, so their statements are prepared), then each read is one round trip
    and none deallocates the connection's prepared statements."""
    store = service.view_store("round_trip_views")
    assert isinstance(store, PostgresViewStore)
    store.commit([ViewRow("p1", "prog", "active", "2.1", '{"s":1}')], 7)
    reads: dict[str, Callable[[], object]] = {
        "position": store.position,
        "load": lambda: store.load(["p1"]),
        "select": lambda: store.select_where(ViewFilter(program_ids=["prog"])),
    }
    for read in reads.values():
        read()  # prepares its statement

    for name, read in reads.items():
        messages = sent_messages(store.datastore, read)
        assert round_trips(messages) == 1, (name, messages)
        assert not any("DEALLOCATE" in m for m in messages), (name, messages)
    assert store.position() == 7


def test_access_log_entries_read_is_one_round_trip(service: Service) -> None:
    """Given an access log with an entry, when its entries are read, then one round trip."""
    log = service.access_log
    assert isinstance(log, PostgresAccessLog)
    participant = uuid4()
    entry = AccessEntry(
        at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        sub="clinician",
        role="clinician",
        participant_id=participant,
        record="timeline",
        endpoint="/v1/participants/{participant_id}/timeline",
        purpose="TREAT",
        request_id=None,
    )
    log.append(entry)
    log.entries(participant_id=participant)

    messages = sent_messages(log.datastore, lambda: log.entries(participant_id=participant))

    assert round_trips(messages) == 1, messages
    assert [e.participant_id for e in log.entries(participant_id=participant)] == [participant]


def test_idempotency_receipt_lookup_is_one_round_trip(service: Service) -> None:
    """When a write's Idempotency-Key is looked up (every keyed write does), one round trip."""
    recorder = service.application.recorder
    assert isinstance(recorder, PostgresIdempotentRecorder)
    recorder.select_idempotent_response("unseen-key")

    messages = sent_messages(
        recorder.datastore, lambda: recorder.select_idempotent_response("unseen-key")
    )

    assert round_trips(messages) == 1, messages


def test_the_views_position_and_a_streams_growth_are_one_round_trip(
    service: Service, postgres_url: str
) -> None:
    """Given a program whose policy was changed once, when a compliance read asks for the
    views' position and whether the program's stream grew past the version kept, then one
    round trip answers both, and rightly: the position committed, not grown; and grown once
    another process records a change."""
    app, views = service.application, service.views
    app.execute(ChangePolicy(program_id="p1", policy={"taper_weeks": 3}), recorded_by="t", now=NOW)
    stream, kept = program_stream_id("p1"), app.policy_version("p1")
    assert isinstance(views.store, PostgresViewStore)
    views.store.commit([], 7)
    views.position_and_growth(stream, kept)  # prepares its statement
    answers: list[tuple[int, bool]] = []

    messages = sent_messages(
        views.store.datastore, lambda: answers.append(views.position_and_growth(stream, kept))
    )

    assert round_trips(messages) == 1, messages
    assert answers == [(7, False)]
    with open_url(postgres_url) as other:
        other.application.execute(
            ChangePolicy(program_id="p1", policy={"taper_weeks": 5}), recorded_by="t", now=NOW
        )
    assert views.position_and_growth(stream, kept) == (7, True)
    assert app.policy_version("p1", unchanged_since=None) == kept + 1
