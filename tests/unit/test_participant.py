"""The Participant aggregate: its events, and every invariant with its named error.

Pure: the aggregate is driven directly, with no application and no database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain import errors
from domain.participant import CLOCK_SKEW_ALLOWANCE, Participant, event_id_for
from tests import make
from tests.make import ADMITTED, PROGRAM, USER
from tests.unit.participant_steps import (
    NOW,
    admitted,
    change_level,
    discharge,
    last_event,
    readmit,
    session,
)

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
    with pytest.raises(errors.InvalidValue) as caught:
        session(participant, datetime(2026, 1, 6, 9, 0))
    assert caught.value.field == "started_at"
    assert len(participant.pending_events) == 2


def test_naive_admission_time_is_refused_on_registration() -> None:
    """A new participant admitted at a naive date-time is refused naming admitted_at."""
    with pytest.raises(errors.InvalidValue) as caught:
        Participant.register(
            uuid4(), PROGRAM, occurred_at=datetime(2026, 1, 5, 9), recorded_by=USER, now=NOW
        )
    assert caught.value.field == "admitted_at"


def test_entries_more_than_five_minutes_in_the_future_are_refused() -> None:
    """Given now, an entry dated now + 5 min is accepted (clock skew) and now + 5 min + 1 s is
    errors.InTheFuture."""
    participant = admitted()
    session(participant, NOW + CLOCK_SKEW_ALLOWANCE)
    with pytest.raises(errors.InTheFuture):
        session(participant, NOW + CLOCK_SKEW_ALLOWANCE + timedelta(seconds=1))


def test_other_utc_offsets_compare_as_instants() -> None:
    """An entry stamped in another offset is compared by instant: 09:00-05:00 is 14:00 UTC."""
    participant = admitted()
    eastern = timezone(timedelta(hours=-5))
    with pytest.raises(errors.BeforeAdmission):
        session(participant, datetime(2026, 1, 5, 3, 59, tzinfo=eastern))
    session(participant, datetime(2026, 1, 5, 4, 0, tzinfo=eastern))


# ---- episode boundaries ----------------------------------------------------------------------


def test_nothing_before_admission() -> None:
    """An entry dated before the admission is errors.BeforeAdmission."""
    participant = admitted()
    with pytest.raises(errors.BeforeAdmission):
        session(participant, ADMITTED - timedelta(minutes=1))


def test_nothing_after_discharge_until_readmitted() -> None:
    """Given a discharged episode, then a session, screening, reassessment or level change is
    errors.AfterDischarge."""
    participant = admitted()
    discharge(participant, ADMITTED + timedelta(days=30))
    later = ADMITTED + timedelta(days=31)
    with pytest.raises(errors.AfterDischarge):
        session(participant, later)
    with pytest.raises(errors.AfterDischarge):
        change_level(participant, "2.1", later)
    with pytest.raises(errors.AfterDischarge):
        participant.record_screening(
            make.screening(participant.id, later, results={"thc": "negative"}),
            recorded_by=USER,
            now=NOW,
        )


@pytest.mark.parametrize(
    ("step", "day", "refusal"),
    [(discharge, 31, errors.AlreadyDischarged), (readmit, 29, errors.BeforeAdmission)],
    ids=["a second discharge of the same episode", "a readmission before the discharge"],
)
def test_after_a_discharge_on_day_30(
    step: Callable[[Participant, datetime], None], day: int, refusal: type[Exception]
) -> None:
    """A second discharge of the same episode is errors.AlreadyDischarged; a readmission dated
    before the previous discharge is errors.BeforeAdmission."""
    participant = admitted()
    discharge(participant, ADMITTED + timedelta(days=30))
    with pytest.raises(refusal):
        step(participant, ADMITTED + timedelta(days=day))


def test_a_discharge_cannot_precede_entries_already_recorded() -> None:
    """Given a session on day 10, a discharge dated day 5 is errors.OutOfOrder: it would leave a
    session recorded after discharge."""
    participant = admitted()
    session(participant, ADMITTED + timedelta(days=10))
    with pytest.raises(errors.OutOfOrder):
        discharge(participant, ADMITTED + timedelta(days=5))
    discharge(participant, ADMITTED + timedelta(days=10))
    assert participant.status == "discharged"


def test_a_level_change_cannot_precede_the_current_level_start() -> None:
    """Given a step-down effective on day 30, a step-up effective on day 20 is errors.OutOfOrder."""
    participant = admitted("3.5")
    change_level(participant, "2.1", ADMITTED + timedelta(days=30))
    with pytest.raises(errors.OutOfOrder):
        change_level(participant, "2.5", ADMITTED + timedelta(days=20))


def test_admitting_an_active_participant_is_refused() -> None:
    """Admitting a participant whose episode is open is errors.AlreadyActive."""
    participant = admitted()
    with pytest.raises(errors.AlreadyActive):
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


def test_entries_of_episode_2_cannot_fall_in_episode_1() -> None:
    """After a readmission, an entry dated before the new admission is errors.BeforeAdmission."""
    participant = admitted()
    discharge(participant, ADMITTED + timedelta(days=30))
    readmit(participant, ADMITTED + timedelta(days=40))
    with pytest.raises(errors.BeforeAdmission):
        session(participant, ADMITTED + timedelta(days=10))
