"""Reads of one statement on PostgreSQL take one round trip and keep the prepared statements.

Counted from libpq's own trace of the messages the client sends: each `Sync` (extended
protocol) or `Query` (simple protocol) is one wait for the server. A read wrapped in
BEGIN ... ROLLBACK took three, and psycopg answers every ROLLBACK by deallocating all the
connection's prepared statements (one more round trip, and every statement prepared again
on its next use): the views' position is read on every compliance read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from api.bench.request_cost import traced
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
    # A small pool (at most two connections), every one of them traced by round_trips.
    with open_url(postgres_url, pool_size=1) as opened:
        yield opened


def round_trips(datastore: Any, read: Callable[[], object]) -> Counter[str]:
    """The round trips `read` took on any of the pool's connections, by the statements each
    carried (libpq's trace, set on every connection the pool can hand out)."""
    with traced([datastore.pool]) as tally:
        read()
    return tally


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
        trips = round_trips(store.datastore, read)
        assert sum(trips.values()) == 1, (name, trips)
        assert not any("DEALLOCATE" in statement for statement in trips), (name, trips)
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

    trips = round_trips(log.datastore, lambda: log.entries(participant_id=participant))

    assert sum(trips.values()) == 1, trips
    assert [e.participant_id for e in log.entries(participant_id=participant)] == [participant]


def test_idempotency_receipt_lookup_is_one_round_trip(service: Service) -> None:
    """When a write's Idempotency-Key is looked up (every keyed write does), one round trip."""
    recorder = service.application.recorder
    assert isinstance(recorder, PostgresIdempotentRecorder)
    recorder.select_idempotent_response("unseen-key")

    trips = round_trips(
        recorder.datastore, lambda: recorder.select_idempotent_response("unseen-key")
    )

    assert sum(trips.values()) == 1, trips


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

    trips = round_trips(
        views.store.datastore, lambda: answers.append(views.position_and_growth(stream, kept))
    )

    assert sum(trips.values()) == 1, trips
    assert answers == [(7, False)]
    with open_url(postgres_url) as other:
        other.application.execute(
            ChangePolicy(program_id="p1", policy={"taper_weeks": 5}), recorded_by="t", now=NOW
        )
    assert views.position_and_growth(stream, kept) == (7, True)
    assert app.policy_version("p1", unchanged_since=None) == kept + 1
