"""Steps of one participant's journey, driven straight through the Participant aggregate's
commands by USER and recorded at NOW (events stay pending): shared by the aggregate's tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from domain.participant import Participant
from tests import make
from tests.make import ADMITTED, PROGRAM, USER, admission, recorded_session

NOW = ADMITTED + timedelta(days=60)


def admitted(level: str = "3.5", edition: str = "3") -> Participant:
    """A participant registered and admitted at ADMITTED, events still pending."""
    return make.admitted(now=NOW, level=level, edition=edition)


def session(participant: Participant, at: datetime, *, now: datetime = NOW) -> None:
    participant.record_session(
        recorded_session(participant.id, at, 90, modality="CBT", track="morning"),
        recorded_by=USER,
        now=now,
    )


def discharge(participant: Participant, at: datetime) -> None:
    participant.discharge(make.discharge(participant.id, at), recorded_by=USER, now=NOW)


def readmit(participant: Participant, at: datetime, level: str = "2.1") -> None:
    participant.admit(
        admission(
            at, participant_id=participant.id, program_id=PROGRAM, level=level, pathway="step_up"
        ),
        recorded_by=USER,
        now=NOW,
    )


def change_level(participant: Participant, to_level: str, at: datetime) -> None:
    participant.change_level(
        make.level_change(participant.id, to_level, at), recorded_by=USER, now=NOW
    )


def last_event(participant: Participant) -> Participant.Event:
    event = participant.pending_events[-1]
    assert isinstance(event, Participant.Event)
    return event


def correct(participant: Participant, event_id: UUID) -> None:
    participant.correct_entry(make.correction(participant.id, event_id), recorded_by=USER, now=NOW)
