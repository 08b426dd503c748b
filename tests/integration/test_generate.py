"""`continuum generate`: a deterministic, realistic cohort written through the application."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from uuid import UUID

import pytest

from api.cli.main import main as cli_main
from api.seed.generate import generate_cohort, generated_participant_id
from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication
from domain.participant import Participant

TODAY = date(2026, 3, 18)


def open_app(url: str) -> ContinuumApplication:
    return ContinuumApplication(env=parse_store_url(url).settings)


def stored_log(app: ContinuumApplication) -> list[tuple[str, int, str, bytes]]:
    rows = app.recorder.select_notifications(start=0, limit=1_000_000)
    return [(str(r.originator_id), r.originator_version, r.topic, r.state) for r in rows]


def streams(app: ContinuumApplication, participants: int, seed: int) -> dict[UUID, list[object]]:
    return {
        pid: list(app.stream(pid))
        for pid in (generated_participant_id(seed, n) for n in range(participants))
    }


@pytest.fixture(scope="module")
def cohort() -> Iterator[tuple[ContinuumApplication, dict[UUID, list[object]]]]:
    """240 participants over 20 weeks, in memory (seed 7)."""
    app = open_app("memory://")
    generate_cohort(app, participants=240, weeks=20, seed=7, today=TODAY)
    yield app, streams(app, 240, 7)
    app.close()


def test_same_seed_and_today_record_the_same_events() -> None:
    """Given two empty stores, when the same cohort (seed, size, today) is generated into each,
    then both logs hold byte-identical events in the same order; another seed differs."""
    logs = []
    for seed in (3, 3, 4):
        app = open_app("memory://")
        generate_cohort(app, participants=30, weeks=8, seed=seed, today=TODAY)
        logs.append(stored_log(app))
        app.close()

    assert logs[0] == logs[1]
    assert logs[0] != logs[2]


def test_the_cohort_has_every_kind_of_journey(
    cohort: tuple[ContinuumApplication, dict[UUID, list[object]]],
) -> None:
    """Given a generated cohort, then it holds residential and PHP step-downs, primary IOP
    admissions, attended and missed sessions, screens with unexpected and prescribed
    positives, reassessments, discharges of every reason, active participants, corrections."""
    _app, by_participant = cohort
    events = [e for stream in by_participant.values() for e in stream]
    kinds = Counter(type(e).__name__ for e in events)
    admitted = [e for e in events if isinstance(e, Participant.Admitted)]
    steps = {(e.from_level, e.to_level) for e in events if isinstance(e, Participant.SteppedDown)}
    discharges = Counter(e.reason for e in events if isinstance(e, Participant.Discharged))
    screens = [e for e in events if isinstance(e, Participant.ScreeningResultRecorded)]
    unexpected = [s for s in screens if s.screening.unexpected_positives]
    prescribed_positive = [
        s for s in screens if s.prescribed and s.results.get("buprenorphine") == "positive"
    ]

    assert {a.level for a in admitted} == {"3.5", "2.5", "2.1"}
    assert {("3.5", "2.1"), ("2.5", "2.1")} <= steps
    assert set(discharges) == {
        "completed", "dropped_out", "against_advice", "transferred", "administrative", "other",
    }  # fmt: skip
    assert kinds["SessionAttended"] > 10 * kinds["SessionMissed"] > 0
    assert kinds["Reassessed"] > 0 and kinds["EntryCorrected"] > 0
    assert 0 < len(unexpected) < 0.15 * len(screens)
    # Most screens of participants on buprenorphine are positive only for it: expected.
    only_prescribed = [s for s in prescribed_positive if not s.screening.unexpected_positives]
    assert len(only_prescribed) > 0.8 * len(prescribed_positive) > 0
    active = len(admitted) - sum(discharges.values())
    assert 0.2 * len(admitted) < active < 0.9 * len(admitted)


def test_program_days_fall_three_to_five_a_week(
    cohort: tuple[ContinuumApplication, dict[UUID, list[object]]],
) -> None:
    """Given the generated cohort, then a participant's group sessions (attended or missed)
    fall on three to five days in a typical full week of the stay."""
    _app, by_participant = cohort
    per_week: list[int] = []
    for stream in by_participant.values():
        groups = {
            e.occurred_at.date()
            for e in stream
            if isinstance(e, Participant.SessionAttended | Participant.SessionMissed)
            and e.service == "group"
        }
        weeks = Counter(day - timedelta(days=day.weekday()) for day in groups)
        per_week.extend(list(weeks.values())[1:-1])  # whole weeks only
    typical = sorted(per_week)[len(per_week) // 2]
    assert 3 <= typical <= 5
    assert max(per_week) <= 5


def test_every_stream_replays_and_its_chain_verifies(
    cohort: tuple[ContinuumApplication, dict[UUID, list[object]]],
) -> None:
    """Given the generated cohort, then every participant replays from its events, its hash
    chain verifies, and its status agrees with whether its last episode was discharged."""
    app, by_participant = cohort
    for pid, stream in by_participant.items():
        participant = app.get_participant(pid)
        assert app.verify_participant(pid).ok
        discharged = any(isinstance(e, Participant.Discharged) for e in stream)
        assert participant.status == ("discharged" if discharged else "active")
        assert all(e.occurred_at.date() < TODAY for e in stream)  # type: ignore[attr-defined]


def test_the_cli_writes_the_cohort_to_each_durable_backend(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given an empty store (memory, SQLite, PostgreSQL), when `continuum generate` runs with
    --database-url, then it reports the count and the store holds every participant."""
    if database_url.startswith("memory"):
        pytest.skip("the CLI's store outlives the command only on durable backends")
    monkeypatch.delenv("CONTINUUM_DATABASE_URL", raising=False)
    code = cli_main(
        ["generate", "--participants", "12", "--weeks", "6", "--seed", "5",
         "--today", TODAY.isoformat(), "--database-url", database_url]
    )  # fmt: skip

    assert code == 0
    assert "Generated 12 participants" in capsys.readouterr().out
    app = open_app(database_url)
    try:
        for n in range(12):
            assert app.get_participant(generated_participant_id(5, n)).episode == 1
        assert app.recorder.max_notification_id()
    finally:
        app.close()
