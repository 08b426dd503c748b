"""Level-of-care fold: current level, since when, status, episode, and the level history."""

from __future__ import annotations

import json
from datetime import date

from projections import level_of_care
from projections.level_of_care import LevelOfCareState
from tests.unit.journey import Journey, at


def fold(journey: Journey) -> LevelOfCareState:
    state = level_of_care.fold(journey.events)
    assert state is not None
    return state


def test_an_admission_opens_the_first_level() -> None:
    """Given an adolescent admitted to 2.1 in program-a on 02-02, then the participant is
    active at 2.1 since the admission, in episode 1, with one open span in the history."""
    journey = Journey(at("2026-02-02"), level="2.1", age_group="adolescent")

    state = fold(journey)

    assert (state.status, state.level, state.level_since) == ("active", "2.1", at("2026-02-02"))
    assert (state.program_id, state.episode, state.age_group) == ("program-a", 1, "adolescent")
    [span] = state.history
    assert (span.level, span.started_at, span.ended_at) == ("2.1", at("2026-02-02"), None)
    assert span.event_id == str(journey.events[1].event_id)


def test_level_changes_close_the_previous_span() -> None:
    """Given a participant at 3.5 stepped down to 2.5 on 02-20 and to 2.1 on 03-06, then the
    current level is 2.1 since 03-06 and the history lists all three stays with their bounds."""
    journey = Journey(at("2026-01-23"), level="3.5")
    down = journey.change_level(at("2026-02-20"), "2.5")
    again = journey.change_level(at("2026-03-06"), "2.1")

    state = fold(journey)

    assert (state.level, state.level_since) == ("2.1", at("2026-03-06"))
    assert [(s.level, s.started_at, s.ended_at) for s in state.history] == [
        ("3.5", at("2026-01-23"), at("2026-02-20")),
        ("2.5", at("2026-02-20"), at("2026-03-06")),
        ("2.1", at("2026-03-06"), None),
    ]
    assert [s.event_id for s in state.history[1:]] == [down, again]


def test_discharge_and_readmission_start_a_new_episode() -> None:
    """Given a participant discharged on 03-01 and readmitted to 2.5 on 04-01, then after the
    discharge the status is discharged with the span closed, and after the readmission the
    participant is active in episode 2 at 2.5."""
    journey = Journey(at("2026-02-02"))
    journey.discharge(at("2026-03-01"))

    discharged = fold(journey)
    assert (discharged.status, discharged.discharged_at) == ("discharged", at("2026-03-01"))
    assert discharged.current is None
    assert discharged.history[-1].ended_at == at("2026-03-01")

    journey.readmit(at("2026-04-01"), level="2.5")
    readmitted = fold(journey)
    assert (readmitted.status, readmitted.episode, readmitted.level) == ("active", 2, "2.5")
    assert readmitted.discharged_at is None
    assert [s.episode for s in readmitted.history] == [1, 2]


def test_entries_that_do_not_move_levels_change_nothing_but_the_version() -> None:
    """Given sessions, screens and a correction, then the level state is unchanged except for
    the version it has applied."""
    journey = Journey(at("2026-02-02"))
    before = fold(journey)
    session = journey.session(at("2026-02-03"))
    journey.screen(at("2026-02-03"))
    journey.correct(session)

    after = fold(journey)

    assert after.history == before.history
    assert after.version == len(journey.events)


def test_the_fold_is_deterministic_and_skips_repeated_events() -> None:
    """Given a stream folded once, and again with every event fed twice, and once more through
    a JSON round trip halfway, then all three states are equal."""
    journey = Journey(at("2026-02-02"), level="2.5")
    journey.change_level(at("2026-02-10"), "2.1")
    journey.discharge(at("2026-03-10"))
    events = journey.events

    once = level_of_care.fold(events)
    twice = level_of_care.fold([e for event in events for e in (event, event)])
    halfway = level_of_care.fold(events[:3])
    assert halfway is not None
    resumed: LevelOfCareState | None = LevelOfCareState.from_dict(
        json.loads(json.dumps(halfway.to_dict()))
    )
    for event in events[3:]:
        resumed = level_of_care.apply(resumed, event)

    assert once == twice == resumed


def test_fold_all_keeps_participants_apart() -> None:
    """Given two participants' streams interleaved, then fold_all gives each its own state,
    keyed by participant id."""
    first = Journey(at("2026-02-02"), level="2.1", program_id="program-a")
    second = Journey(at("2026-02-03"), level="2.5", program_id="program-b")
    second.change_level(at("2026-02-10"), "2.1")
    interleaved = [e for pair in zip(first.events, second.events, strict=False) for e in pair]
    interleaved += second.events[len(first.events) :]

    states = level_of_care.fold_all(interleaved)

    assert set(states) == {first.id, second.id}
    assert (states[first.id].program_id, states[first.id].level) == ("program-a", "2.1")
    assert len(states[second.id].history) == 2


def test_to_dict_names_level_and_level_since() -> None:
    """to_dict() carries the participant read's fields: program_id, status, level,
    level_since (ISO 8601) and the history with from/to/event_id."""
    journey = Journey(at(date(2026, 2, 2)))

    data = fold(journey).to_dict()

    assert data["level"] == "2.1"
    assert data["level_since"] == "2026-02-02T09:00:00+00:00"
    assert data["history"][0]["to"] is None
