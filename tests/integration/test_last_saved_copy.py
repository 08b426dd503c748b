"""Commands start from the participant as this process last saved it, without reading the
store; another process (a second application on the same store) may have written since.

Whatever the other process wrote, a command here must land after it (never overwrite or lose
it), be refused only by the stream as stored, and If-Match must be judged against the store.
Commands change that entry in place, so a command that fails half-way must leave nothing of
itself behind for the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from api.seed.commands import admission, recorded_session
from api.storage.recorders import PostgresIdempotentRecorder
from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication
from domain.commands import CorrectEntry, Discharge
from domain.errors import AfterDischarge, DomainError, VersionConflict
from domain.participant import Participant
from domain.service.write_engine import CATCH_UP_STALE_SHARE
from tests import make
from tests.make import ADMITTED

NOW = ADMITTED + timedelta(days=60)


@pytest.fixture
def app(database_url: str) -> Iterator[ContinuumApplication]:
    application = ContinuumApplication(env=parse_store_url(database_url, pool_size=2).settings)
    yield application
    application.close()


@pytest.fixture
def two_apps(database_url: str) -> Iterator[tuple[ContinuumApplication, ContinuumApplication]]:
    if database_url.startswith("memory"):
        pytest.skip("two in-memory applications do not share a store")
    here = ContinuumApplication(env=parse_store_url(database_url, pool_size=2).settings)
    other = ContinuumApplication(env=parse_store_url(database_url, pool_size=2).settings)
    yield here, other
    here.close()
    other.close()


def admit(app: ContinuumApplication) -> UUID:
    return make.admit(app, now=NOW)


def session(
    app: ContinuumApplication, pid: UUID, day: int, expected_version: int | None = None
) -> int:
    return app.execute(
        recorded_session(pid, ADMITTED + timedelta(days=day), 180),
        recorded_by=f"writer-day-{day}",
        now=NOW,
        expected_version=expected_version,
    ).version


def test_a_write_after_another_process_wrote_lands_after_it(
    two_apps: tuple[ContinuumApplication, ContinuumApplication],
) -> None:
    here, other = two_apps
    pid = admit(here)
    assert session(here, pid, 1) == 3  # `here` now holds its copy at version 3
    assert session(other, pid, 2) == 4
    assert session(other, pid, 3) == 5
    assert session(here, pid, 4) == 6
    stream = other.stream(pid)
    assert [e.originator_version for e in stream] == [1, 2, 3, 4, 5, 6]
    assert [e.recorded_by for e in stream[2:]] == [f"writer-day-{d}" for d in (1, 2, 3, 4)]


def test_a_command_the_stale_copy_would_accept_is_refused_by_the_store(
    two_apps: tuple[ContinuumApplication, ContinuumApplication],
) -> None:
    here, other = two_apps
    pid = admit(here)
    session(here, pid, 1)
    other.execute(
        Discharge(
            participant_id=pid, discharged_at=ADMITTED + timedelta(days=2), reason="completed"
        ),
        recorded_by="clinician",
        now=NOW,
    )
    with pytest.raises(AfterDischarge):
        session(here, pid, 5)
    assert len(other.stream(pid)) == 4


def test_a_command_the_stale_copy_would_refuse_is_judged_by_the_store(
    two_apps: tuple[ContinuumApplication, ContinuumApplication],
) -> None:
    """The copy here does not know the event the other process appended; correcting it must
    still succeed, since the stored stream has it."""
    here, other = two_apps
    pid = admit(here)
    session(here, pid, 1)
    written_elsewhere = other.execute(
        recorded_session(pid, ADMITTED + timedelta(days=2), 60),
        recorded_by="other",
        now=NOW,
    )
    corrected = here.execute(
        CorrectEntry(
            participant_id=pid, event_id=written_elsewhere.event_id, reason="wrong participant"
        ),
        recorded_by="clinician",
        now=NOW,
    )
    assert corrected.version == 5


@pytest.mark.parametrize("catching_up", [False, True], ids=["save-checked", "caught-up"])
def test_if_match_is_judged_against_the_store_not_the_copy(
    two_apps: tuple[ContinuumApplication, ContinuumApplication], catching_up: bool
) -> None:
    """Whether the entry is proved current by the save or caught up first (as after many
    stale entries), If-Match is judged against the stream as stored."""
    here, other = two_apps
    pid = admit(here)
    session(here, pid, 1)  # copy here at 3
    if catching_up:
        here._writes.stale_share = 1.0
    session(other, pid, 2)  # store at 4
    assert session(here, pid, 3, expected_version=4) == 5
    with pytest.raises(VersionConflict) as behind:  # the caller is behind the copy
        session(here, pid, 4, expected_version=4)
    assert behind.value.current_version == 5
    session(other, pid, 4)  # store at 6
    with pytest.raises(VersionConflict) as refused:
        session(here, pid, 5, expected_version=5)
    assert refused.value.current_version == 6
    assert [e.recorded_by for e in other.stream(pid)][2:] == [
        f"writer-day-{d}" for d in (1, 2, 3, 4)
    ]


def test_pooled_connections_dropped_by_the_server_are_replaced_unnoticed(
    postgres_url: str,
) -> None:
    """The pool pings only connections the server has spoken on while idle: a terminated
    backend is found and replaced before use, so the next command just works."""
    app = ContinuumApplication(env=parse_store_url(postgres_url, pool_size=2).settings)
    try:
        pid = admit(app)
        session(app, pid, 1)
        dbname = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            terminated = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            ).fetchone()
        assert terminated is not None and terminated[0] >= 1
        assert session(app, pid, 2) == 4
        recorder = app.recorder
        assert isinstance(recorder, PostgresIdempotentRecorder)
        assert recorder.datastore.pool.get_stats().get("connections_lost", 0) >= 1
        assert [e.originator_version for e in app.stream(pid)] == [1, 2, 3, 4]
    finally:
        app.close()


def test_a_readmission_through_a_process_that_never_saw_the_participant(
    two_apps: tuple[ContinuumApplication, ContinuumApplication],
) -> None:
    """An admission first tries to open a new stream; for a participant stored already (a
    readmission) that save fails on version 1 and the admission is judged by the store."""
    here, other = two_apps
    pid = admit(here)
    here.execute(
        Discharge(
            participant_id=pid, discharged_at=ADMITTED + timedelta(days=3), reason="completed"
        ),
        recorded_by="clinician",
        now=NOW,
    )
    readmitted = other.execute(
        admission(
            ADMITTED + timedelta(days=20), participant_id=pid, program_id="prog-1", level="2.5"
        ),
        recorded_by="intake",
        now=NOW,
    )
    assert readmitted.version == 4
    assert [type(e).__name__ for e in here.stream(pid)] == [
        "Registered", "Admitted", "Discharged", "Admitted",
    ]  # fmt: skip


def test_a_save_that_fails_leaves_no_half_applied_command_behind(
    app: ContinuumApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event applied to the entry but never stored must not survive: the next command
    writes the very next version, with no gap where the failed one was."""
    pid = admit(app)
    session(app, pid, 1)

    def database_gone(*args: object, **kwargs: object) -> None:
        raise OperationalError("the server closed the connection")

    with monkeypatch.context() as patched:
        patched.setattr(app.recorder, "insert_events", database_gone)
        with pytest.raises(OperationalError):
            session(app, pid, 2)
    assert session(app, pid, 3) == 4
    stream = app.stream(pid)
    assert [e.originator_version for e in stream] == [1, 2, 3, 4]
    assert stream[-1].recorded_by == "writer-day-3"


def test_a_command_refused_half_way_leaves_no_half_applied_command_behind(
    app: ContinuumApplication,
) -> None:
    """A command that has already applied one event when it is refused: neither the entry
    nor the store keeps that event."""
    pid = admit(app)
    session(app, pid, 1)

    def attend_then_refuse(participant: Participant) -> None:
        participant.record_session(
            recorded_session(participant.id, ADMITTED + timedelta(days=2), 60),
            recorded_by="half-way",
            now=NOW,
        )
        raise DomainError("refused after the first event")

    with pytest.raises(DomainError):
        app._writes.run(pid, attend_then_refuse, idempotency=None, expected_version=None)
    assert session(app, pid, 3) == 4
    assert [e.recorded_by for e in app.stream(pid)][2:] == ["writer-day-1", "writer-day-3"]


def _count_calls(
    monkeypatch: pytest.MonkeyPatch, app: ContinuumApplication, name: str
) -> list[int]:
    """A list that grows by one each time `app.<name>` is called."""
    calls: list[int] = []
    original = getattr(app, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(app, name, counted)
    return calls


def test_once_most_entries_are_stale_each_is_caught_up_before_its_command(
    two_apps: tuple[ContinuumApplication, ContinuumApplication], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes taking turns on each participant (as `serve --workers 2` does): after a
    few stale entries, `here` reads the events after its entry before applying the command,
    so a stale entry no longer costs a failed save; nothing is lost or reordered."""
    here, other = two_apps
    pid = admit(here)
    day = 0
    while here._writes.stale_share < CATCH_UP_STALE_SHARE:
        assert day < 20, "never switched to catching up"
        day += 1
        session(here, pid, day)
        day += 1
        session(other, pid, day)
    saves = _count_calls(monkeypatch, here, "save_participant")
    caught_up = _count_calls(monkeypatch, here, "catch_up")
    for _ in range(3):
        day += 1
        session(here, pid, day)
        day += 1
        session(other, pid, day)
    assert len(saves) == 3 and len(caught_up) == 3
    stream = other.stream(pid)
    assert [e.originator_version for e in stream] == list(range(1, day + 3))
    assert [e.recorded_by for e in stream[2:]] == [f"writer-day-{d}" for d in range(1, day + 1)]


def test_entries_are_caught_up_only_while_other_processes_make_them_stale(
    app: ContinuumApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alone on its participants, a process soon goes back to one round trip per command."""
    pid = admit(app)
    app._writes.stale_share = 1.0
    caught_up = _count_calls(monkeypatch, app, "catch_up")
    for day in range(1, 41):
        session(app, pid, day)
    assert 0 < len(caught_up) < 40
    assert app._writes.stale_share < CATCH_UP_STALE_SHARE
    before = len(caught_up)
    session(app, pid, 41)
    assert len(caught_up) == before
