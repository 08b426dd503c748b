"""PostgreSQL appends through the recorder's one-round-trip database function."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from api.seed.commands import admission, recorded_session
from api.storage.recorders import PostgresIdempotentRecorder
from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication, IdempotencyKey, Recorded
from domain.commands import Discharge
from domain.errors import VersionConflict

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ADMITTED_AT = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(postgres_url: str) -> Iterator[ContinuumApplication]:
    application = ContinuumApplication(env=parse_store_url(postgres_url).settings)
    assert isinstance(application.recorder, PostgresIdempotentRecorder)
    yield application
    application.close()


def admit(app: ContinuumApplication) -> Recorded:
    return app.execute(
        admission(ADMITTED_AT, participant_id=uuid4(), program_id="p1", level="2.1"),
        recorded_by="t",
        now=NOW,
    )


def session(
    app: ContinuumApplication,
    participant_id: UUID,
    *,
    expected_version: int | None = None,
    idempotency: IdempotencyKey | None = None,
) -> Recorded:
    return app.execute(
        recorded_session(participant_id, ADMITTED_AT.replace(day=3), 60),
        recorded_by="t",
        now=NOW,
        expected_version=expected_version,
        idempotency=idempotency,
    )


def test_a_save_records_its_events_at_ascending_positions(app: ContinuumApplication) -> None:
    """An admission (2 events) returns the second event's position; both rows are stored,
    in order, at consecutive positions."""
    recorded = admit(app)

    rows = app.recorder.select_notifications(start=1, limit=10)
    assert [(r.originator_id, r.originator_version) for r in rows] == [
        (recorded.participant_id, 1),
        (recorded.participant_id, 2),
    ]
    assert rows[1].id == rows[0].id + 1 == recorded.position


def test_a_stale_save_is_a_version_conflict_and_writes_nothing(
    app: ContinuumApplication,
) -> None:
    """Saving an aggregate read before another write raises IntegrityError (the version
    conflict); the store holds only the winning write. Through the service, If-Match on a
    stale version answers VersionConflict."""
    pid = admit(app).participant_id
    stale = app.get_participant(pid)
    session(app, pid)
    stale.record_session(
        recorded_session(stale.id, ADMITTED_AT.replace(day=4), 30),
        recorded_by="t",
        now=NOW,
    )

    with pytest.raises(IntegrityError):
        app.save(stale)
    with pytest.raises(VersionConflict):
        session(app, pid, expected_version=2)
    assert [r.originator_version for r in app.recorder.select_events(pid)] == [1, 2, 3]


def test_a_receipt_is_stored_with_its_events_or_not_at_all(app: ContinuumApplication) -> None:
    """A keyed write stores its receipt with the last event's position; a second write that
    tries to store a receipt under the same key fails whole (no events either)."""
    pid = admit(app).participant_id
    first = session(app, pid, idempotency=IdempotencyKey("k-1", "f"))
    stored = app.recorder.select_idempotent_response("k-1")  # type: ignore[attr-defined]
    assert stored is not None and stored[0] == "f"
    assert stored[2] == first.position

    participant = app.get_participant(pid)
    participant.record_session(
        recorded_session(participant.id, ADMITTED_AT.replace(day=5), 30, attended=False),
        recorded_by="t",
        now=NOW,
    )
    with pytest.raises(IntegrityError):
        app.save(participant, idempotency=("k-1", "other", "{}"))
    assert [r.originator_version for r in app.recorder.select_events(pid)] == [1, 2, 3]


def test_an_append_waits_for_the_events_table_lock(
    app: ContinuumApplication, postgres_url: str
) -> None:
    """While another transaction holds the events table's EXCLUSIVE lock, an append waits
    for it (so positions follow commit order and a tailing view never skips a row)."""
    pid = admit(app).participant_id
    table = app.recorder.events_table_name  # type: ignore[attr-defined]
    done = threading.Event()

    def write_then_signal() -> None:
        session(app, pid)
        done.set()

    with psycopg.connect(postgres_url) as conn:
        conn.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
        writer = threading.Thread(target=write_then_signal)
        writer.start()
        assert not done.wait(0.5)  # blocked by the lock
        conn.commit()
    assert done.wait(5)
    writer.join()


def test_apps_starting_together_all_open(app: ContinuumApplication, postgres_url: str) -> None:
    """Given an existing store, four apps starting at the same moment (each creating its
    tables and functions) all open; none fails with "tuple concurrently updated"."""
    settings = parse_store_url(postgres_url, pool_size=1).settings
    for _round in range(3):
        start = threading.Barrier(4)
        failures: list[BaseException] = []

        def open_one(start: threading.Barrier, failures: list[BaseException]) -> None:
            start.wait()
            try:
                ContinuumApplication(env=settings).close()
            except BaseException as error:  # collected for the assertion below
                failures.append(error)

        threads = [threading.Thread(target=open_one, args=(start, failures)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert failures == []


def test_a_store_with_the_earlier_releases_append_functions_opens(
    app: ContinuumApplication, postgres_url: str
) -> None:
    """The append functions of earlier releases (continuum_append over the library's composite
    type, continuum_append_one returning a set) are dropped on start; events stored before go
    on, and appends land after them."""
    pid = admit(app).participant_id
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for old in ("continuum_append", "continuum_append_one"):
            conn.execute(
                f"CREATE FUNCTION {old}(uuid, bigint, text, bytea, text, text, text) "
                "RETURNS SETOF bigint LANGUAGE sql AS 'SELECT 1::bigint'"
            )
    reopened = ContinuumApplication(env=parse_store_url(postgres_url).settings)
    try:
        assert session(reopened, pid).version == 3
        discharged = reopened.execute(
            Discharge(
                participant_id=pid, discharged_at=ADMITTED_AT.replace(day=4), reason="completed"
            ),
            recorded_by="t",
            now=NOW,
        )
        assert discharged.version == 4
        with psycopg.connect(postgres_url) as conn:
            left = conn.execute(
                "SELECT proname FROM pg_proc WHERE proname LIKE 'continuum_append%' "
                "ORDER BY proname"
            ).fetchall()
        assert [name for (name,) in left] == ["continuum_append_event", "continuum_append_events"]
        assert [e.originator_version for e in reopened.stream(pid)] == [1, 2, 3, 4]
    finally:
        reopened.close()


def test_several_events_of_several_streams_are_appended_in_one_call(
    app: ContinuumApplication,
) -> None:
    """A save of many events (here two admissions, two streams) stores every event, in the
    order given, at consecutive positions, with each field as given."""
    first, second = uuid4(), uuid4()
    rows = [
        StoredEvent(first, 1, "topic.a", b"\x00state-1"),
        StoredEvent(first, 2, "topic.b", b"state-2\xff"),
        StoredEvent(second, 1, "topic.c", b""),
    ]
    positions = app.recorder.insert_events(rows)
    assert positions is not None and len(positions) == 3
    assert list(positions) == list(range(positions[0], positions[0] + 3))
    stored = app.recorder.select_notifications(start=positions[0], limit=3)
    assert [(r.originator_id, r.originator_version, r.topic, r.state) for r in stored] == [
        (r.originator_id, r.originator_version, r.topic, r.state) for r in rows
    ]
