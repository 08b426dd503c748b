"""The Participant aggregate: its events, and every invariant with its named error.

Pure: the aggregate is driven directly, with no application and no database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from api.seed.commands import admission, recorded_session
from domain.commands import (
    ChangeLevel,
    CorrectEntry,
    Discharge,
    Reassess,
    RecordScreening,
)
from domain.errors import (
    AfterDischarge,
    AlreadyActive,
    AlreadyCorrected,
    AlreadyDischarged,
    BeforeAdmission,
    DomainError,
    InTheFuture,
    InvalidValue,
    NotCorrectable,
    OutOfOrder,
    SameLevel,
    UnknownEvent,
)
from domain.participant import CLOCK_SKEW_ALLOWANCE, Participant, event_id_for

ADMITTED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = ADMITTED + timedelta(days=60)
USER = "clinician-1"


def admitted(level: str = "3.5", edition: str = "3") -> Participant:
    """A participant registered and admitted at ADMITTED, events still pending."""
    participant = Participant.register(
        uuid4(), "prog-1", occurred_at=ADMITTED, recorded_by=USER, now=NOW
    )
    participant.admit(
        admission(
            ADMITTED,
            participant_id=participant.id,
            program_id="prog-1",
            level=level,
            criteria_edition=edition,
        ),
        recorded_by=USER,
        now=NOW,
    )
    return participant


def session(participant: Participant, at: datetime, *, now: datetime = NOW) -> None:
    participant.record_session(
        recorded_session(participant.id, at, 90, modality="CBT", track="morning"),
        recorded_by=USER,
        now=now,
    )


def discharge(participant: Participant, at: datetime) -> None:
    participant.discharge(
        Discharge(
            participant_id=participant.id, reason="completed", to_level=None, discharged_at=at
        ),
        recorded_by=USER,
        now=NOW,
    )


def readmit(participant: Participant, at: datetime, level: str = "2.1") -> None:
    participant.admit(
        admission(
            at, participant_id=participant.id, program_id="prog-1", level=level, pathway="step_up"
        ),
        recorded_by=USER,
        now=NOW,
    )


def change_level(participant: Participant, to_level: str, at: datetime) -> None:
    participant.change_level(
        ChangeLevel(
            participant_id=participant.id,
            to_level=to_level,
            criteria_edition=None,
            reason="reassessed",
            effective_at=at,
        ),
        recorded_by=USER,
        now=NOW,
    )


def last_event(participant: Participant) -> Participant.Event:
    event = participant.pending_events[-1]
    assert isinstance(event, Participant.Event)
    return event


# ---- events ----------------------------------------------------------------------------------

EXPECTED_TOPICS = {
    "Registered": "continuum.Participant.Registered.v1",
    "Admitted": "continuum.Participant.Admitted.v1",
    "SteppedDown": "continuum.Participant.SteppedDown.v1",
    "SteppedUp": "continuum.Participant.SteppedUp.v1",
    "SessionAttended": "continuum.Participant.SessionAttended.v1",
    "SessionMissed": "continuum.Participant.SessionMissed.v1",
    "ScreeningResultRecorded": "continuum.Participant.ScreeningResultRecorded.v1",
    "Reassessed": "continuum.Participant.Reassessed.v1",
    "Discharged": "continuum.Participant.Discharged.v1",
    "EntryCorrected": "continuum.Participant.EntryCorrected.v1",
    "LevelRecoded": "continuum.Participant.LevelRecoded.v1",
    "MedicationPrescribed": "continuum.Participant.MedicationPrescribed.v1",
    "MedicationEnded": "continuum.Participant.MedicationEnded.v1",
    "RecertificationRecorded": "continuum.Participant.RecertificationRecorded.v1",
    "DischargeSummaryRecorded": "continuum.Participant.DischargeSummaryRecorded.v1",
}


def _stored_event_classes() -> dict[str, type]:
    """Every concrete event class nested on Participant (the abstract LevelChanged aside)."""
    return {
        name: value
        for name, value in vars(Participant).items()
        if isinstance(value, type)
        and issubclass(value, Participant.Event)
        and value is not Participant.Event
        and value is not Participant.LevelChanged
        and name != "Created"  # the library's alias of Registered
    }


def test_every_event_class_has_its_fixed_topic() -> None:
    """The set of event classes and their TOPIC strings is exactly the stored contract: a
    renamed class or topic, or a new event without a fixed topic, fails here."""
    classes = _stored_event_classes()
    assert {name: cls.__dict__.get("TOPIC") for name, cls in classes.items()} == EXPECTED_TOPICS
    assert Participant.TOPIC == "continuum.Participant"


def test_topics_are_unique() -> None:
    """No two event classes share a stored topic."""
    topics = [cls.__dict__["TOPIC"] for cls in _stored_event_classes().values()]
    assert len(topics) == len(set(topics))


def test_new_participant_stream_is_registered_then_admitted() -> None:
    """Given a new participant, then the stream is Registered (v1) then Admitted (v2), episode 1,
    active at the admitted level."""
    participant = admitted()
    assert [type(e).__name__ for e in participant.pending_events] == ["Registered", "Admitted"]
    assert [e.originator_version for e in participant.pending_events] == [1, 2]
    assert participant.status == "active"
    assert participant.episode == 1
    assert participant.level is not None and participant.level.code == "3.5"


def test_events_are_immutable() -> None:
    """An event is a frozen fact: assigning to any field fails."""
    event = last_event(admitted())
    assert isinstance(event, Participant.Admitted)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.level = "2.1"  # mypy cannot see the library makes events frozen


def test_events_carry_clinical_time_apart_from_recorded_time() -> None:
    """occurred_at is the clinical time given; timestamp (recorded_at) is the `now` handed in;
    recorded_by is kept."""
    participant = admitted()
    at = ADMITTED + timedelta(days=3)
    session(participant, at)
    event = last_event(participant)
    assert event.occurred_at == at
    assert event.timestamp == NOW
    assert event.recorded_at == NOW
    assert event.recorded_by == USER


def test_event_id_is_stable_per_participant_and_version() -> None:
    """event_id is derived from the participant id and the version, so it is the same after a
    replay and differs between versions."""
    participant = admitted()
    first, second = participant.pending_events
    assert isinstance(first, Participant.Event) and isinstance(second, Participant.Event)
    assert first.event_id == event_id_for(participant.id, 1)
    assert second.event_id == participant.last_event_id
    assert first.event_id != second.event_id


# ---- time ------------------------------------------------------------------------------------


def test_naive_datetime_is_refused() -> None:
    """A date-time without a UTC offset is refused naming its field, before any event."""
    participant = admitted()
    with pytest.raises(InvalidValue) as caught:
        session(participant, datetime(2026, 1, 6, 9, 0))
    assert caught.value.field == "started_at"
    assert len(participant.pending_events) == 2


def test_naive_admission_time_is_refused_on_registration() -> None:
    """A new participant admitted at a naive date-time is refused naming admitted_at."""
    with pytest.raises(InvalidValue) as caught:
        Participant.register(
            uuid4(), "prog-1", occurred_at=datetime(2026, 1, 5, 9), recorded_by=USER, now=NOW
        )
    assert caught.value.field == "admitted_at"


def test_entries_more_than_five_minutes_in_the_future_are_refused() -> None:
    """Given now, an entry dated now + 5 min is accepted (clock skew) and now + 5 min + 1 s is
    InTheFuture."""
    participant = admitted()
    session(participant, NOW + CLOCK_SKEW_ALLOWANCE)
    with pytest.raises(InTheFuture):
        session(participant, NOW + CLOCK_SKEW_ALLOWANCE + timedelta(seconds=1))


def test_other_utc_offsets_compare_as_instants() -> None:
    """An entry stamped in another offset is compared by instant: 09:00-05:00 is 14:00 UTC."""
    participant = admitted()
    eastern = timezone(timedelta(hours=-5))
    with pytest.raises(BeforeAdmission):
        session(participant, datetime(2026, 1, 5, 3, 59, tzinfo=eastern))
    session(participant, datetime(2026, 1, 5, 4, 0, tzinfo=eastern))


# ---- episode boundaries ----------------------------------------------------------------------


def test_nothing_before_admission() -> None:
    """An entry dated before the admission is BeforeAdmission."""
    participant = admitted()
    with pytest.raises(BeforeAdmission):
        session(participant, ADMITTED - timedelta(minutes=1))


def test_nothing_after_discharge_until_readmitted() -> None:
    """Given a discharged episode, then a session, screening, reassessment or level change is
    AfterDischarge."""
    participant = admitted()
    discharge(participant, ADMITTED + timedelta(days=30))
    later = ADMITTED + timedelta(days=31)
    with pytest.raises(AfterDischarge):
        session(participant, later)
    with pytest.raises(AfterDischarge):
        change_level(participant, "2.1", later)
    with pytest.raises(AfterDischarge):
        participant.record_screening(
            RecordScreening(
                participant_id=participant.id,
                specimen="urine",
                status="valid",
                results={"thc": "negative"},
                prescribed=[],
                collected_at=later,
            ),
            recorded_by=USER,
            now=NOW,
        )


def test_one_discharge_per_episode() -> None:
    """A second discharge of the same episode is AlreadyDischarged."""
    participant = admitted()
    discharge(participant, ADMITTED + timedelta(days=30))
    with pytest.raises(AlreadyDischarged):
        discharge(participant, ADMITTED + timedelta(days=31))


def test_a_discharge_cannot_precede_entries_already_recorded() -> None:
    """Given a session on day 10, a discharge dated day 5 is OutOfOrder: it would leave a
    session recorded after discharge."""
    participant = admitted()
    session(participant, ADMITTED + timedelta(days=10))
    with pytest.raises(OutOfOrder):
        discharge(participant, ADMITTED + timedelta(days=5))
    discharge(participant, ADMITTED + timedelta(days=10))
    assert participant.status == "discharged"


def test_a_level_change_cannot_precede_the_current_level_start() -> None:
    """Given a step-down effective on day 30, a step-up effective on day 20 is OutOfOrder."""
    participant = admitted("3.5")
    change_level(participant, "2.1", ADMITTED + timedelta(days=30))
    with pytest.raises(OutOfOrder):
        change_level(participant, "2.5", ADMITTED + timedelta(days=20))


def test_admitting_an_active_participant_is_refused() -> None:
    """Admitting a participant whose episode is open is AlreadyActive."""
    participant = admitted()
    with pytest.raises(AlreadyActive):
        readmit(participant, ADMITTED + timedelta(days=1))


def test_readmission_starts_episode_2_in_the_same_stream() -> None:
    """Given a discharged participant, when readmitted, then an Admitted event with episode 2
    is appended to the same stream and entries are accepted again."""
    participant = admitted()
    discharge(participant, ADMITTED + timedelta(days=30))
    readmit(participant, ADMITTED + timedelta(days=40))
    event = last_event(participant)
    assert isinstance(event, Participant.Admitted)
    assert event.episode == 2
    assert event.originator_id == participant.id
    assert participant.status == "active"
    assert participant.episode == 2
    assert participant.discharged_at is None
    session(participant, ADMITTED + timedelta(days=41))


def test_readmission_cannot_precede_the_previous_discharge() -> None:
    """A readmission dated before the previous discharge is BeforeAdmission."""
    participant = admitted()
    discharge(participant, ADMITTED + timedelta(days=30))
    with pytest.raises(BeforeAdmission):
        readmit(participant, ADMITTED + timedelta(days=29))


def test_entries_of_episode_2_cannot_fall_in_episode_1() -> None:
    """After a readmission, an entry dated before the new admission is BeforeAdmission."""
    participant = admitted()
    discharge(participant, ADMITTED + timedelta(days=30))
    readmit(participant, ADMITTED + timedelta(days=40))
    with pytest.raises(BeforeAdmission):
        session(participant, ADMITTED + timedelta(days=10))


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
        uuid4(), "prog-1", occurred_at=ADMITTED, recorded_by=USER, now=NOW
    )
    with pytest.raises(InvalidValue) as caught:
        participant.admit(
            admission(
                ADMITTED,
                participant_id=participant.id,
                program_id="prog-1",
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
            Reassess(
                participant_id=participant.id,
                dimensions={"d1": 1, "d2": 1, "d3": 1, "d4": 1, "d5": 1},
                recommended_level="2.1",
                decided_level="2.1",
                criteria_edition=None,
                rationale="",
                assessed_at=ADMITTED + timedelta(days=1),
            ),
            recorded_by=USER,
            now=NOW,
        )
    assert caught.value.field == "dimensions.d6"
    assert len(participant.pending_events) == 2


# ---- corrections -----------------------------------------------------------------------------


def correct(participant: Participant, event_id: UUID) -> None:
    participant.correct_entry(
        CorrectEntry(participant_id=participant.id, event_id=event_id, reason="wrong chart"),
        recorded_by=USER,
        now=NOW,
    )


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
