"""Concurrent writers on one participant, with real threads, on every backend.

One application instance is shared by the threads, as the HTTP server shares it between its
worker threads; a second instance on the same store stands in for a second process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar
from uuid import UUID

import pytest

from api.seed.commands import admission, recorded_session
from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication, IdempotencyKey, Recorded
from domain.errors import VersionConflict
from domain.participant import Participant
from tests import make
from tests.make import ADMITTED

NOW = ADMITTED + timedelta(days=120)
THREADS = 8
SESSIONS_PER_THREAD = 5

T = TypeVar("T")


def open_app(url: str) -> ContinuumApplication:
    return ContinuumApplication(env=parse_store_url(url, pool_size=THREADS).settings)


@pytest.fixture
def app(database_url: str) -> Iterator[ContinuumApplication]:
    app = open_app(database_url)
    yield app
    app.close()


def admit(app: ContinuumApplication) -> UUID:
    return make.admit(app, now=NOW)


def record_session(
    app: ContinuumApplication,
    participant_id: UUID,
    minute: int,
    *,
    recorded_by: str = "clinician",
    expected_version: int | None = None,
    idempotency: IdempotencyKey | None = None,
) -> Recorded:
    return app.execute(
        recorded_session(participant_id, ADMITTED + timedelta(minutes=minute), 60),
        recorded_by=recorded_by,
        now=NOW,
        expected_version=expected_version,
        idempotency=idempotency,
    )


def run_together(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run every call on its own thread, released at once; results or exceptions, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | BaseException:
        barrier.wait()
        try:
            return call()
        except Exception as error:
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def sessions(app: ContinuumApplication, participant_id: UUID) -> list[Participant.Event]:
    return [e for e in app.stream(participant_id) if isinstance(e, Participant.SessionAttended)]


def test_concurrent_sessions_on_one_participant_are_all_kept(app: ContinuumApplication) -> None:
    """Given one participant, when 8 threads each record 5 sessions at once without
    expected_version, then every command succeeds, each session is in the stream exactly once,
    and versions run 1..n with no gap and no duplicate."""
    pid = admit(app)

    def writer(thread: int) -> Callable[[], list[Recorded]]:
        def write() -> list[Recorded]:
            return [
                record_session(app, pid, thread * 100 + n, recorded_by=f"clinician-{thread}")
                for n in range(SESSIONS_PER_THREAD)
            ]

        return write

    outcomes = run_together([writer(t) for t in range(THREADS)])
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert failures == []

    stream = app.stream(pid)
    expected_total = 2 + THREADS * SESSIONS_PER_THREAD
    assert [e.originator_version for e in stream] == list(range(1, expected_total + 1))
    recorded = sorted((e.recorded_by, e.occurred_at) for e in sessions(app, pid))
    assert recorded == sorted(
        (f"clinician-{t}", ADMITTED + timedelta(minutes=t * 100 + n))
        for t in range(THREADS)
        for n in range(SESSIONS_PER_THREAD)
    )
    receipts = [r for o in outcomes if not isinstance(o, BaseException) for r in o]
    assert sorted(r.version for r in receipts) == list(range(3, expected_total + 1))


def test_two_app_instances_writing_the_same_participant_lose_nothing(database_url: str) -> None:
    """Given two application instances on one durable store (two processes), when both record
    sessions on the same participant at once, then every receipt's event is in the stream, any
    command that did not get a receipt was told so with VersionConflict (never silently
    dropped), and versions are contiguous."""
    if database_url.startswith("memory"):
        pytest.skip("two in-memory applications do not share a store")
    first, second = open_app(database_url), open_app(database_url)
    try:
        pid = admit(first)

        def writer(app: ContinuumApplication, thread: int) -> Callable[[], Recorded]:
            return lambda: record_session(app, pid, thread, recorded_by=f"writer-{thread}")

        calls = [writer(app, t) for t, app in enumerate([first, second] * THREADS)]
        outcomes = run_together(calls)
        receipts = [o for o in outcomes if isinstance(o, Recorded)]
        refusals = [o for o in outcomes if not isinstance(o, Recorded)]
        assert all(isinstance(o, VersionConflict) for o in refusals), refusals
        # Refusing everything would pass the checks below: conflicts are retried, so most
        # writes land, and each instance gets some of them in.
        assert len(receipts) * 2 >= len(calls), (len(receipts), refusals)
        assert {t % 2 for t, o in enumerate(outcomes) if isinstance(o, Recorded)} == {0, 1}

        stream = second.stream(pid)
        assert [e.originator_version for e in stream] == list(range(1, len(stream) + 1))
        assert len(stream) == 2 + len(receipts)
        by_version = {e.originator_version: e for e in stream}
        for receipt in receipts:
            assert by_version[receipt.version].event_id == receipt.event_id
        written_by = sorted(e.recorded_by for e in sessions(second, pid))
        assert written_by == sorted(
            f"writer-{t}" for t, o in enumerate(outcomes) if isinstance(o, Recorded)
        )
    finally:
        first.close()
        second.close()


def test_two_writers_with_the_same_expected_version_one_wins(app: ContinuumApplication) -> None:
    """Given a stream at version 2, when two writers both send expected_version 2 at once, then
    exactly one is recorded as version 3 and the other gets VersionConflict naming version 3;
    nothing is overwritten."""
    pid = admit(app)
    outcomes = run_together(
        [
            lambda: record_session(app, pid, 10, recorded_by="alice", expected_version=2),
            lambda: record_session(app, pid, 20, recorded_by="bob", expected_version=2),
        ]
    )
    wins = [o for o in outcomes if isinstance(o, Recorded)]
    conflicts = [o for o in outcomes if isinstance(o, VersionConflict)]
    assert len(wins) == 1 and len(conflicts) == 1, outcomes
    assert wins[0].version == 3
    assert conflicts[0].current_version == 3

    stream = app.stream(pid)
    assert len(stream) == 3
    winner = "alice" if outcomes[0] is wins[0] else "bob"
    assert stream[-1].recorded_by == winner


def test_same_idempotency_key_from_many_threads_appends_once(app: ContinuumApplication) -> None:
    """Given 8 threads sending the same request with the same Idempotency-Key at once, then one
    event is appended and every caller gets the same receipt."""
    pid = admit(app)
    key = IdempotencyKey("same-request", "fingerprint-a")
    outcomes = run_together(
        [lambda: record_session(app, pid, 30, idempotency=key) for _ in range(THREADS)]
    )
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert len(set(outcomes)) == 1
    (receipt,) = set(outcomes)
    assert isinstance(receipt, Recorded)
    assert receipt.version == 3
    assert len(app.stream(pid)) == 3


def test_same_idempotency_key_for_a_new_admission_opens_one_participant(
    app: ContinuumApplication,
) -> None:
    """Given 8 threads retrying one admission (no participant id) with one key at once, then
    exactly one participant is opened and every caller is told its id."""
    key = IdempotencyKey("same-admission", "fingerprint-a")

    def admit_with_key() -> Recorded:
        return app.execute(
            admission(ADMITTED, program_id="prog-1", level="2.1"),
            recorded_by="intake",
            now=NOW,
            idempotency=key,
        )

    outcomes = run_together([admit_with_key for _ in range(THREADS)])
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert len(set(outcomes)) == 1
    assert len(app.recorder.select_notifications(start=1, limit=1000)) == 2
