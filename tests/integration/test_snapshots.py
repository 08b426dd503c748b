"""Snapshots every 100 events: a long stream is rebuilt from its latest snapshot plus the few
events after it, and that state equals a full replay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Repository

from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication
from domain.errors import AlreadyCorrected
from domain.participant import Participant
from domain.service.snapshots import check_snapshots
from tests.make import (
    ADMITTED,
    PROGRAM,
    admission,
    correction,
    level_change,
    reassessment,
    recorded_session,
    screening,
)

CALM = {"d1": 0, "d2": 0, "d3": 1, "d4": 2, "d5": 2, "d6": 1}
NOW = ADMITTED + timedelta(days=400)
STREAM_LENGTH = 1_000
INTERVAL = ContinuumApplication.snapshotting_intervals[Participant]


def open_uncached_app(url: str) -> ContinuumApplication:
    """The app with its aggregate cache off, so every read rebuilds from the store."""
    settings = {**parse_store_url(url).settings, "AGGREGATE_CACHE_MAXSIZE": ""}
    return ContinuumApplication(env=settings)


BATCH = 100  # events saved per transaction while building the stream


def append_entry(participant: Participant) -> None:
    """One more session, screening or reassessment, chosen by the next version number."""
    version = participant.version + 1
    at = ADMITTED + timedelta(days=28, hours=version)
    if version % 50 == 0:
        screen = screening(
            participant.id, at, results={"buprenorphine": "positive"}, prescribed=["buprenorphine"]
        )
        participant.record_screening(screen, recorded_by="lab", now=NOW)
    elif version % 97 == 0:
        review = reassessment(participant.id, at, dimensions=CALM, rationale="continue")
        participant.reassess(review, recorded_by="clinician", now=NOW)
    else:
        participant.record_session(
            recorded_session(participant.id, at, 90, attended=version % 7 != 0),
            recorded_by="clinician",
            now=NOW,
        )


def correct_fourth(app: ContinuumApplication, pid: UUID, reason: str) -> None:
    """Correct the stream's fourth event (its first session)."""
    event_id = app.get_participant(pid, version=4).last_event_id
    app.execute(correction(pid, event_id, reason=reason), recorded_by="clinician", now=NOW)


@pytest.fixture
def long_stream(database_url: str) -> Iterator[tuple[ContinuumApplication, UUID]]:
    """A participant with 1,000 events: registration, admission, a step-down, sessions,
    screenings and reassessments, and a correction as the last event.

    The bulk is written straight through the aggregate's commands and saved 100 events per
    transaction (the library snapshots on save all the same), which keeps setup fast; the
    aggregate cache is then switched off so every rebuild in the tests reaches the store.
    """
    app = ContinuumApplication(env=parse_store_url(database_url).settings)
    pid = app.execute(
        admission(
            ADMITTED, program_id=PROGRAM, age_group="adolescent", level="3.5", criteria_edition="4"
        ),
        recorded_by="intake",
        now=NOW,
    ).participant_id
    app.execute(
        level_change(pid, "2.1", ADMITTED + timedelta(days=28), reason="step down"),
        recorded_by="clinician",
        now=NOW,
    )
    participant = app.get_participant(pid)
    while participant.version < STREAM_LENGTH - 1:
        append_entry(participant)
        if participant.version % BATCH == 0 or participant.version == STREAM_LENGTH - 1:
            app.save(participant)
    correct_fourth(app, pid, "wrong day")
    assert app.get_participant(pid).version == STREAM_LENGTH
    app.repository.cache = None
    yield app, pid
    app.close()


def count_events_read(app: ContinuumApplication) -> list[int]:
    """Wrap the recorder's select_events; the returned list grows by each call's row count."""
    counts: list[int] = []
    recorder = app.recorder
    original = recorder.select_events

    def counting(*args: Any, **kwargs: Any) -> Any:
        rows = original(*args, **kwargs)
        counts.append(len(rows))
        return rows

    recorder.select_events = counting  # type: ignore[method-assign]  # instrumenting on purpose
    return counts


def comparable_state(participant: Participant) -> dict[str, Any]:
    state = dict(vars(participant))
    state.pop("_pending_events")
    return state


def test_snapshots_are_taken_every_100_events(
    long_stream: tuple[ContinuumApplication, UUID],
) -> None:
    """A 1,000-event stream has snapshots at versions 100, 200, ..., 1000."""
    app, pid = long_stream
    assert app.snapshots is not None
    versions = [s.originator_version for s in app.snapshots.get(pid)]
    assert versions == list(range(INTERVAL, STREAM_LENGTH + 1, INTERVAL))


@pytest.mark.parametrize("version", [None, 950, 999])
def test_rebuilding_reads_at_most_one_interval_of_events(
    long_stream: tuple[ContinuumApplication, UUID], version: int | None
) -> None:
    """Given a 1,000-event participant, when it is rebuilt (now, or as of version 950 or 999),
    then at most 100 stored events are selected: the rest comes from the latest snapshot."""
    app, pid = long_stream
    counts = count_events_read(app)
    participant = app.get_participant(pid, version=version)
    assert participant.version == (version or STREAM_LENGTH)
    assert counts, "the repository read the events table"
    assert sum(counts) <= INTERVAL


def test_state_from_snapshot_equals_state_from_full_replay(
    long_stream: tuple[ContinuumApplication, UUID],
) -> None:
    """The participant rebuilt from its snapshot has exactly the state of a replay of all 1,000
    events: level, edition, episode, times, every entry and every correction."""
    app, pid = long_stream
    from_snapshot = app.get_participant(pid)
    counts = count_events_read(app)
    full_replay: object = Repository(event_store=app.events).get(pid)
    assert sum(counts) == STREAM_LENGTH
    assert isinstance(full_replay, Participant)
    assert comparable_state(from_snapshot) == comparable_state(full_replay)
    assert len(from_snapshot.entries) == STREAM_LENGTH
    assert len(from_snapshot.corrected) == 1
    assert from_snapshot.level is not None
    assert (from_snapshot.level.code, from_snapshot.level.edition.value) == ("2.1", "4")


def test_snapshot_state_round_trips_through_the_store(
    long_stream: tuple[ContinuumApplication, UUID], database_url: str
) -> None:
    """A new application on the same store rebuilds the participant from the stored snapshot
    to the same state (the snapshot transcodes both ways)."""
    app, pid = long_stream
    if database_url.startswith("memory"):
        pytest.skip("an in-memory store is not shared with a new application")
    reopened = open_uncached_app(database_url)
    try:
        counts = count_events_read(reopened)
        assert comparable_state(reopened.get_participant(pid)) == comparable_state(
            app.get_participant(pid)
        )
        assert sum(counts) <= INTERVAL
    finally:
        reopened.close()


def test_commands_still_work_on_a_participant_rebuilt_from_a_snapshot(
    long_stream: tuple[ContinuumApplication, UUID],
) -> None:
    """After 1,000 events a session is recorded as version 1,001 and a correction of an early
    entry is refused as already corrected (the snapshot kept the corrections)."""
    app, pid = long_stream
    receipt = app.execute(
        recorded_session(pid, NOW - timedelta(days=1), 50, service="individual"),
        recorded_by="clinician",
        now=NOW,
    )
    assert receipt.version == STREAM_LENGTH + 1
    with pytest.raises(AlreadyCorrected):
        correct_fourth(app, pid, "again")


@pytest.mark.parametrize("saved_at_once", [1, 10])
def test_a_snapshot_due_on_save_equals_a_replay_of_the_stream(
    database_url: str, saved_at_once: int
) -> None:
    """Given events saved one at a time, the snapshot due at version 100 is taken from the
    participant just saved (the stream is not read back: the library's rebuild-and-snapshot
    is not called); saved ten at a time (versions 95-104 at once), it is rebuilt from the
    store at version 100. Either way it names that version and `verify`'s check finds its
    seal and its state those of a replay of the stream."""
    app = ContinuumApplication(env=parse_store_url(database_url).settings)
    try:
        pid = app.execute(
            admission(ADMITTED, program_id=PROGRAM, level="2.1"), recorded_by="intake", now=NOW
        ).participant_id
        rebuilt: list[int | None] = []
        library_take_snapshot = app.take_snapshot

        def take_snapshot(aggregate_id: UUID, version: int | None = None, **kw: Any) -> None:
            rebuilt.append(version)
            library_take_snapshot(aggregate_id, version, **kw)

        app.take_snapshot = take_snapshot  # type: ignore[method-assign,assignment]  # observing
        participant = app.get_participant(pid)
        while participant.version < INTERVAL + 4:
            append_entry(participant)
            if saved_at_once == 1 or participant.version % saved_at_once == 4:
                app.save(participant)
        assert app.snapshots is not None
        assert [s.originator_version for s in app.snapshots.get(pid)] == [INTERVAL]
        assert rebuilt == ([] if saved_at_once == 1 else [INTERVAL])
        breaks = check_snapshots(
            app.snapshots.recorder, app.mapper, app.seal_key, pid, app.stream(pid)
        )
        assert breaks == []
    finally:
        app.close()
