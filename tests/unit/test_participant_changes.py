"""The Participant aggregate's changes of course: level changes, reassessments, corrections,
and commands refused without a trace.

Pure: the aggregate is driven directly, with no application and no database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import get_args
from uuid import uuid4

import pytest

from domain.commands import ParticipantCommand
from domain.errors import (
    AlreadyCorrected,
    DomainError,
    InvalidValue,
    NotCorrectable,
    SameLevel,
    UnknownEvent,
)
from domain.participant import COMMAND_HANDLERS, Participant
from tests import make
from tests.make import ADMITTED, PROGRAM, USER, admission, recorded_session
from tests.unit.participant_steps import (
    NOW,
    admitted,
    change_level,
    correct,
    discharge,
    last_event,
    session,
)

# ---- level changes ---------------------------------------------------------------------------


def test_moving_to_a_lower_level_is_a_step_down() -> None:
    """3.5 -> 2.1 is SteppedDown, recording both levels; the participant is then at 2.1."""
    participant = admitted("3.5")
    change_level(participant, "2.1", ADMITTED + timedelta(days=28))
    event = last_event(participant)
    assert isinstance(event, Participant.SteppedDown)
    assert (event.from_level, event.to_level) == ("3.5", "2.1")
    assert participant.level is not None and participant.level.code == "2.1"
    assert participant.level_since == ADMITTED + timedelta(days=28)


def test_moving_to_a_higher_level_is_a_step_up() -> None:
    """2.1 -> 2.5 is SteppedUp."""
    participant = admitted("2.1")
    change_level(participant, "2.5", ADMITTED + timedelta(days=10))
    assert isinstance(last_event(participant), Participant.SteppedUp)


def test_step_direction_is_decided_by_comparing_levels_not_codes() -> None:
    """From 4th-edition 1.7 to 4th-edition 1.5 is a step down; from 2.1 up to 4 a step up."""
    participant = admitted("1.7", "4")
    change_level(participant, "1.5", ADMITTED + timedelta(days=1))
    assert isinstance(last_event(participant), Participant.SteppedDown)
    change_level(participant, "4", ADMITTED + timedelta(days=2))
    assert isinstance(last_event(participant), Participant.SteppedUp)


def test_a_level_change_must_change_the_level() -> None:
    """Changing to the current level is SameLevel, and nothing is appended."""
    participant = admitted("2.1")
    with pytest.raises(SameLevel):
        change_level(participant, "2.1", ADMITTED + timedelta(days=1))
    assert len(participant.pending_events) == 2


def test_a_level_change_to_a_code_of_another_edition_is_refused() -> None:
    """In a 4th-edition episode, 3.3 (dropped) is an InvalidValue on to_level."""
    participant = admitted("3.5", "4")
    with pytest.raises(InvalidValue) as caught:
        change_level(participant, "3.3", ADMITTED + timedelta(days=1))
    assert caught.value.field == "to_level"


def test_step_down_admission_must_come_from_a_higher_level() -> None:
    """A step-down admission referred from a lower level is refused naming
    referred_from_level."""
    participant = Participant.register(
        uuid4(), PROGRAM, occurred_at=ADMITTED, recorded_by=USER, now=NOW
    )
    with pytest.raises(InvalidValue) as caught:
        participant.admit(
            admission(
                ADMITTED,
                participant_id=participant.id,
                program_id=PROGRAM,
                level="2.1",
                pathway="step_down",
                referred_from_level="1",
            ),
            recorded_by=USER,
            now=NOW,
        )
    assert caught.value.field == "referred_from_level"


# ---- reassessment ----------------------------------------------------------------------------


def test_reassessment_refuses_a_missing_dimension_before_any_event() -> None:
    """A reassessment without d6 is refused naming dimensions.d6; nothing is appended."""
    participant = admitted()
    with pytest.raises(InvalidValue) as caught:
        participant.reassess(
            make.reassessment(
                participant.id,
                ADMITTED + timedelta(days=1),
                dimensions={"d1": 1, "d2": 1, "d3": 1, "d4": 1, "d5": 1},
                rationale="",
            ),
            recorded_by=USER,
            now=NOW,
        )
    assert caught.value.field == "dimensions.d6"
    assert len(participant.pending_events) == 2


# ---- corrections -----------------------------------------------------------------------------


def test_correction_names_an_event_of_this_stream() -> None:
    """Given a session, when it is corrected, then EntryCorrected names it and the participant
    remembers which event corrected it."""
    participant = admitted()
    session(participant, ADMITTED + timedelta(days=1))
    target = participant.last_event_id
    correct(participant, target)
    event = last_event(participant)
    assert isinstance(event, Participant.EntryCorrected)
    assert event.corrected_event_id == target
    assert participant.corrected == {str(target): str(event.event_id)}


def test_correcting_an_unknown_event_is_refused() -> None:
    """An event id from another stream (or none at all) is UnknownEvent."""
    participant, other = admitted(), admitted()
    session(other, ADMITTED + timedelta(days=1))
    with pytest.raises(UnknownEvent):
        correct(participant, other.last_event_id)
    with pytest.raises(UnknownEvent):
        correct(participant, uuid4())


def test_an_entry_is_corrected_only_once() -> None:
    """Correcting the same entry twice is AlreadyCorrected."""
    participant = admitted()
    session(participant, ADMITTED + timedelta(days=1))
    target = participant.last_event_id
    correct(participant, target)
    with pytest.raises(AlreadyCorrected):
        correct(participant, target)


@pytest.mark.parametrize("version", [1, 2])
def test_registration_and_admission_are_not_correctable(version: int) -> None:
    """The Registered and Admitted entries shape the journey: correcting them is
    NotCorrectable (a later fact puts them right)."""
    participant = admitted()
    with pytest.raises(NotCorrectable):
        correct(participant, participant.event_id_at(version))


def test_a_correction_is_not_itself_correctable() -> None:
    """Correcting an EntryCorrected is NotCorrectable."""
    participant = admitted()
    session(participant, ADMITTED + timedelta(days=1))
    correct(participant, participant.last_event_id)
    with pytest.raises(NotCorrectable):
        correct(participant, participant.last_event_id)


def test_a_correction_is_allowed_after_discharge() -> None:
    """Given a discharged episode, an entry of that episode can still be corrected."""
    participant = admitted()
    session(participant, ADMITTED + timedelta(days=1))
    target = participant.last_event_id
    discharge(participant, ADMITTED + timedelta(days=30))
    correct(participant, target)
    assert isinstance(last_event(participant), Participant.EntryCorrected)


def test_rejected_commands_leave_the_aggregate_unchanged() -> None:
    """Whatever a command refuses, no pending event is added and the version stays."""
    participant = admitted()
    before = (participant.version, len(participant.pending_events))
    attempts: list[Callable[[], None]] = [
        lambda: session(participant, ADMITTED - timedelta(days=1)),
        lambda: change_level(participant, "3.5", ADMITTED + timedelta(days=1)),
        lambda: correct(participant, uuid4()),
        lambda: participant.record_session(
            recorded_session(participant.id, ADMITTED, 60, service="yoga"),
            recorded_by=USER,
            now=NOW,
        ),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError):
            attempt()
    assert (participant.version, len(participant.pending_events)) == before


def test_every_participant_command_has_one_handler() -> None:
    """The dispatch table names a handler for each type of the ParticipantCommand union, and
    nothing else: a new command cannot be accepted by the API yet ignored by the aggregate."""
    assert set(COMMAND_HANDLERS) == set(get_args(ParticipantCommand))


def test_a_value_that_is_not_a_participant_command_is_refused() -> None:
    """Executing anything else raises TypeError instead of leaving the stream unchanged."""
    participant = admitted()
    with pytest.raises(TypeError):
        participant.execute(object(), recorded_by=USER, now=NOW)  # type: ignore[arg-type]
