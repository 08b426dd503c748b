"""The demo cohort, loaded through the application's commands on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import pytest

from api.cli.main import main as cli_main
from api.seed.demo import (
    DEMO_KEYS,
    HARBOR,
    RIVERSIDE,
    DemoAlreadyLoaded,
    demo_participant_id,
    load_demo_cohort,
)
from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication
from domain.participant import Participant
from domain.timeline import TimelineEntry

TODAY = date(2026, 3, 18)
E = TypeVar("E", bound=Participant.Event)


def open_app(url: str) -> ContinuumApplication:
    return ContinuumApplication(env=parse_store_url(url).settings)


@pytest.fixture
def app(database_url: str) -> Iterator[ContinuumApplication]:
    """An application on each backend in turn (memory, SQLite, PostgreSQL)."""
    application = open_app(database_url)
    yield application
    application.close()


@pytest.fixture(scope="module")
def loaded() -> Iterator[ContinuumApplication]:
    """One in-memory store holding the demo cohort, for the tests that only read it."""
    application = open_app("memory://")
    load_demo_cohort(application, today=TODAY)
    yield application
    application.close()


def timeline(app: ContinuumApplication, key: str) -> list[TimelineEntry]:
    return app.timeline(demo_participant_id(key))


def events_of(app: ContinuumApplication, key: str, kind: type[E]) -> list[E]:
    return [e.event for e in timeline(app, key) if isinstance(e.event, kind)]


def test_loading_records_twelve_participants(app: ContinuumApplication) -> None:
    """Given an empty store, when the demo is loaded, then it holds twelve active or
    discharged participants in the two demo programs, with the ids the loader returned,
    one of them an adolescent at 2.1."""
    ids = load_demo_cohort(app, today=TODAY)

    assert len(ids) == len(set(ids)) == 12
    assert ids == [demo_participant_id(key) for key in DEMO_KEYS]
    participants = [app.get_participant(pid) for pid in ids]
    assert {p.program_id for p in participants} == {HARBOR, RIVERSIDE}
    assert {p.status for p in participants} == {"active", "discharged"}
    adolescents = [p for p in participants if p.age_group == "adolescent"]
    assert [p.level_code for p in adolescents] == ["2.1"]


def test_residential_step_down_timeline_is_in_clinical_order(app: ContinuumApplication) -> None:
    """Given the loaded demo, a residential step-down participant's timeline opens with the
    admission at 3.5, then a SteppedDown to 2.1, then sessions and screenings, in clinical order."""
    load_demo_cohort(app, today=TODAY)
    entries = [entry.event for entry in timeline(app, "harbor-1")]

    assert isinstance(entries[0], Participant.Registered)
    admitted = entries[1]
    assert isinstance(admitted, Participant.Admitted)
    assert admitted.level == "3.5"
    step_down = next(i for i, e in enumerate(entries) if isinstance(e, Participant.SteppedDown))
    stepped = entries[step_down]
    assert isinstance(stepped, Participant.SteppedDown)
    assert (stepped.from_level, stepped.to_level) == ("3.5", "2.1")
    assert 28 <= (stepped.occurred_at - admitted.occurred_at).days <= 30
    after = {type(e) for e in entries[step_down + 1 :]}
    assert {Participant.SessionAttended, Participant.ScreeningResultRecorded} <= after
    clinical_times = [e.occurred_at for e in entries]
    assert clinical_times == sorted(clinical_times)


def test_loading_twice_is_refused_and_appends_nothing(app: ContinuumApplication) -> None:
    """Given a store with the demo loaded, when it is loaded again (even on a later day),
    then DemoAlreadyLoaded is raised and the log does not grow."""
    load_demo_cohort(app, today=TODAY)
    before = app.recorder.max_notification_id()

    with pytest.raises(DemoAlreadyLoaded):
        load_demo_cohort(app, today=TODAY + timedelta(days=3))

    assert app.recorder.max_notification_id() == before


def test_same_day_gives_the_same_records() -> None:
    """Given two empty stores, when both load the demo for the same day, then every stream is
    identical: same event ids, types, clinical and recorded times and data."""

    def snapshot(app: ContinuumApplication) -> list[tuple[object, ...]]:
        return [
            (e.event_id, type(e).__name__, e.occurred_at, e.recorded_at, e.__dict__.copy())
            for key in DEMO_KEYS
            for e in app.stream(demo_participant_id(key))
        ]

    first, second = open_app("memory://"), open_app("memory://")
    load_demo_cohort(first, today=TODAY)
    load_demo_cohort(second, today=TODAY)

    assert snapshot(first) == snapshot(second)


def test_everything_happened_before_today_and_runs_up_to_yesterday(
    loaded: ContinuumApplication,
) -> None:
    """Given the demo loaded for a day, no entry occurred or was recorded on or after that day,
    and every active participant has an entry from the last three days: the demo looks current."""
    midnight = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC)
    for key in DEMO_KEYS:
        events = [entry.event for entry in timeline(loaded, key)]
        assert all(e.occurred_at < midnight and e.recorded_at < midnight for e in events)
        assert all(e.recorded_at >= e.occurred_at for e in events)
        if loaded.get_participant(demo_participant_id(key)).status == "active":
            assert events[-1].occurred_at >= midnight - timedelta(days=3), key


def test_journeys_last_eight_to_sixteen_weeks_once_complete(loaded: ContinuumApplication) -> None:
    """Given the demo, the completed discharge comes 8 to 16 weeks after admission, and no
    active participant has been in treatment longer than 16 weeks."""
    for key in DEMO_KEYS:
        participant = loaded.get_participant(demo_participant_id(key))
        assert participant.admitted_at is not None
        end = participant.discharged_at or datetime.combine(TODAY, datetime.min.time(), UTC)
        weeks = (end - participant.admitted_at).days / 7
        assert weeks <= 16, key
        if participant.status == "discharged":
            reason = events_of(loaded, key, Participant.Discharged)[-1].reason
            if reason == "completed":
                assert weeks >= 8, key


def test_the_dropout_stops_attending_then_is_discharged(loaded: ContinuumApplication) -> None:
    """Given the demo, one participant is discharged dropped_out after at least 7 days with no
    attended session, the sessions in between recorded as missed."""
    dropped = [
        key
        for key in DEMO_KEYS
        if any(d.reason == "dropped_out" for d in events_of(loaded, key, Participant.Discharged))
    ]
    assert len(dropped) == 1
    (key,) = dropped
    discharged = events_of(loaded, key, Participant.Discharged)[-1]
    last_attended = events_of(loaded, key, Participant.SessionAttended)[-1]
    assert discharged.occurred_at - last_attended.occurred_at >= timedelta(days=7)
    missed = events_of(loaded, key, Participant.SessionMissed)
    assert any(m.occurred_at > last_attended.occurred_at for m in missed)


def test_screens_include_one_unexpected_positive_followed_by_a_reassessment(
    loaded: ContinuumApplication,
) -> None:
    """Given the demo, exactly one screen is an unexpected positive, and that participant is
    reassessed within 7 days; another's positives are all prescribed buprenorphine (expected)."""
    unexpected, expected_only = [], []
    for key in DEMO_KEYS:
        for screen in events_of(loaded, key, Participant.ScreeningResultRecorded):
            outcome = screen.screening.outcome.value
            if outcome == "unexpected_positive":
                unexpected.append((key, screen))
            elif outcome == "expected_positive":
                expected_only.append((key, screen))
    assert len(unexpected) == 1
    key, screen = unexpected[0]
    followups = [
        r
        for r in events_of(loaded, key, Participant.Reassessed)
        if timedelta(0) <= r.occurred_at - screen.occurred_at <= timedelta(days=7)
    ]
    assert followups
    assert expected_only
    assert all(s.prescribed == ["buprenorphine"] for _, s in expected_only)


def test_one_mis_entered_session_is_corrected(loaded: ContinuumApplication) -> None:
    """Given the demo, exactly one entry is marked entered-in-error, and it is a session."""
    corrected = [entry for key in DEMO_KEYS for entry in timeline(loaded, key) if entry.corrected]
    assert len(corrected) == 1
    assert isinstance(corrected[0].event, Participant.SessionAttended)


def test_reassessments_carry_the_six_ratings(loaded: ContinuumApplication) -> None:
    """Given the demo, every participant in treatment over 30 days at Level 2.x has a
    reassessment, and each one rates dimensions d1 to d6."""
    reassessed = 0
    for key in DEMO_KEYS:
        for reassessment in events_of(loaded, key, Participant.Reassessed):
            assert sorted(reassessment.dimensions) == ["d1", "d2", "d3", "d4", "d5", "d6"]
            reassessed += 1
    assert reassessed >= 12


def test_staff_ids_record_every_entry(loaded: ContinuumApplication) -> None:
    """Given the demo, every entry is recorded by a demo staff id, never left empty."""
    staff = {e.recorded_by for key in DEMO_KEYS for e in loaded.stream(demo_participant_id(key))}
    assert staff <= {"intake-fay", "clin-ana", "clin-ben", "clin-chen", "case-dee", "lab-eli"}


def test_demo_command_loads_an_empty_store_and_refuses_a_second_time(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given an empty SQLite store, `continuum demo` loads the cohort (exit 0); run again it
    refuses (exit 1) because the store has events, and with --force still refuses to load the
    demo a second time, appending nothing."""
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CONTINUUM_LOG_FORMAT", "console")

    assert cli_main(["demo", "--today", TODAY.isoformat()]) == 0
    assert "Loaded 12 demo participants" in capsys.readouterr().out
    assert cli_main(["demo"]) == 1
    assert "already has events" in capsys.readouterr().err
    assert cli_main(["demo", "--force"]) == 1
    assert "already loaded" in capsys.readouterr().err

    app = open_app(sqlite_url)
    try:
        ids = [demo_participant_id(key) for key in DEMO_KEYS]
        assert sum(len(app.stream(pid)) for pid in ids) == app.recorder.max_notification_id()
    finally:
        app.close()
