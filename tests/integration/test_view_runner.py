"""The view runner: batched catch-up, racing runners, program events, live following."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from uuid import UUID

import pytest

from api.bootstrap import Service, open_url
from api.seed.commands import admission
from api.seed.synthetic_log import write_log
from api.storage.views import Views
from domain.application import ContinuumApplication
from domain.commands import ChangePolicy
from projections.participant_view import ParticipantViewFold
from projections.runner import ViewRunner
from projections.view_store import ViewRow, ViewStore

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store_url(database_url: str) -> str:
    """Every backend, memory included (the folder's default is the durable ones)."""
    return database_url


def runner_on(app: ContinuumApplication, view_store: ViewStore, batch_size: int) -> ViewRunner:
    return ViewRunner(
        app.recorder, app.mapper, view_store, ParticipantViewFold(), batch_size=batch_size
    )


def expected_rows(app: ContinuumApplication) -> dict[str, ViewRow]:
    """Each participant's row folded straight from their own stream, one event at a time."""
    fold = ParticipantViewFold()
    rows: dict[str, ViewRow] = {}
    for notification in app.recorder.select_notifications(start=1, limit=10**6):
        pid = str(notification.originator_id)
        if pid in rows or not notification.topic.startswith("continuum.Participant"):
            continue
        state = fold.decode(None)
        for event in app.stream(UUID(pid)):
            state = fold.apply(state, event, pid)
        rows[pid] = fold.encode(pid, state)
    return rows


def admit(app: ContinuumApplication) -> int:
    recorded = app.execute(
        admission(datetime(2026, 2, 2, 9, tzinfo=UTC), program_id="p1", level="2.1"),
        recorded_by="test",
        now=NOW,
    )
    assert recorded.position is not None
    return recorded.position


def test_batched_catch_up_applies_each_event_exactly_once(
    app: ContinuumApplication, views: Views
) -> None:
    """Given an interleaved log of 12 participants, when the views catch up 7 events per
    transaction, then they reach the head and every row equals its stream folded on its own."""
    write_log(app, participants=12, events_per_participant=25)
    views.runner.batch_size = 7

    reached = views.runner.catch_up()

    assert reached == app.recorder.max_notification_id() == views.store.position()
    assert {r.participant_id: r for r in views.store.all_rows()} == expected_rows(app)


def test_catch_up_resumes_from_the_tracked_position(
    app: ContinuumApplication, views: Views
) -> None:
    """Given views stopped after 3 batches, when a new runner catches up, then the views
    equal a clean rebuild: nothing applied twice, nothing skipped."""
    write_log(app, participants=6, events_per_participant=20)
    views.runner.batch_size = 10
    views.runner.catch_up(max_batches=3)
    assert views.store.position() == 30

    runner_on(app, views.store, 13).catch_up()

    assert {r.participant_id: r for r in views.store.all_rows()} == expected_rows(app)


def test_two_runners_racing_yield_the_views_of_one_clean_rebuild(
    app: ContinuumApplication, service: Service, views: Views
) -> None:
    """Given two runners with different batch sizes on the same view tables, when both catch
    up at once, then the views are identical (digest) to a single clean rebuild."""
    write_log(app, participants=10, events_per_participant=30)
    racers = [runner_on(app, views.store, 5), runner_on(app, views.store, 8)]
    errors: list[BaseException] = []

    def race(runner: ViewRunner) -> None:
        try:
            runner.catch_up()
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=race, args=(r,)) for r in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    clean = service.view_store("participant_views_clean")
    runner_on(app, clean, 500).rebuild()
    assert views.store.digest() == clean.digest()


def test_program_events_advance_the_position_without_rows(
    app: ContinuumApplication, views: Views
) -> None:
    """Given only a program's policy change in the log, when the views catch up, then the
    position moves to it and no participant row exists."""
    recorded = app.execute(
        ChangePolicy(program_id="p1", policy={"taper_weeks": 3}), recorded_by="test", now=NOW
    )

    views.runner.catch_up()

    assert views.store.position() == recorded.position
    assert list(views.store.all_rows()) == []


def test_live_mode_follows_new_events(app: ContinuumApplication, views: Views) -> None:
    """Given running views, when a participant is admitted, then the views reach the write's
    position within the read-your-writes wait and hold the participant's row."""
    views.start()

    position = admit(app)

    assert views.runner.wait_for(position, timeout=5)
    rows = list(views.store.all_rows())
    assert [r.status for r in rows] == ["active"]


def wait_until(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_postgres_notify_wakes_the_views(postgres_url: str) -> None:
    """Given views polling only once a minute, when another process's app writes, then the
    LISTEN/NOTIFY wake-up brings the views to the write within seconds."""
    reader, writer = open_url(postgres_url), open_url(postgres_url).application
    views = reader.views
    try:
        views.runner.catch_up()
        views.runner.start(poll_interval=60)
        assert views.listener is not None
        views.listener.start()
        assert views.listener.connected.wait(5)

        position = admit(writer)

        assert wait_until(lambda: views.store.position() >= position, timeout=5)
    finally:
        views.stop()
        reader.close()
        writer.close()


def test_postgres_polling_covers_a_lost_notify(postgres_url: str) -> None:
    """Given the LISTEN connection stopped (every NOTIFY lost), when another process's app
    writes, then the periodic poll still brings the views to the write."""
    reader, writer = open_url(postgres_url), open_url(postgres_url).application
    views = reader.views
    try:
        views.runner.catch_up()
        views.runner.start(poll_interval=0.2)  # the listener is never started: no wake-ups

        position = admit(writer)

        assert wait_until(lambda: views.store.position() >= position, timeout=5)
        assert len(list(views.store.all_rows())) == 1
    finally:
        views.stop()
        reader.close()
        writer.close()


class GatedLog:
    """The runner's view of the log; its first empty read (the end of a catch-up) waits for
    the test to release it, so a write can land just after the runner saw the log's end."""

    def __init__(self, recorder: object) -> None:
        self.recorder = recorder
        self.at_end, self.release = threading.Event(), threading.Event()

    def select_notifications(self, *args: object, **kwargs: object) -> object:
        found = self.recorder.select_notifications(*args, **kwargs)  # type: ignore[attr-defined]
        if not found and not self.release.is_set():
            self.at_end.set()
            self.release.wait(10)
        return found

    def __getattr__(self, name: str) -> object:
        return getattr(self.recorder, name)


def test_a_wake_up_during_a_catch_up_is_not_lost(app: ContinuumApplication, views: Views) -> None:
    """Given live views polling once a minute and no NOTIFY listener, when a write and its
    wake-up arrive after a catch-up read the log's end but before it returned, then the views
    still reach that write at once (the wake-up is kept, not cleared unseen)."""
    admit(app)
    gate = GatedLog(views.runner.recorder)
    views.runner.recorder = gate  # type: ignore[assignment]
    views.runner.start(poll_interval=60)
    try:
        assert gate.at_end.wait(5)

        second = admit(app)
        views.runner.wake()  # arrives mid-catch-up
        gate.release.set()

        assert wait_until(lambda: views.store.position() >= second, timeout=5)
    finally:
        gate.release.set()
        views.runner.stop()
