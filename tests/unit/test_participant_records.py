"""The records beside the journey on the Participant aggregate: prescriptions, edition
re-codes, recertifications, discharge summaries and late reassessments."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

import pytest

from domain.commands import (
    ChangeLevel,
    Discharge,
    EndPrescription,
    Prescribe,
    Reassess,
    RecordDischargeSummary,
)
from domain.errors import (
    AfterDischarge,
    BeforeDischarge,
    InvalidValue,
    NotDischarged,
    PrescriptionEnded,
    SameLevel,
    UnknownPrescription,
)
from domain.participant import Participant
from domain.policy import DEFAULT_POLICY, ProgramPolicy
from tests.unit.journey import DIMENSIONS
from tests.unit.test_participant import ADMITTED, NOW, USER, admitted


def last(participant: Participant) -> Participant.Event:
    event = participant.pending_events[-1]
    assert isinstance(event, Participant.Event)
    return event


def change(participant: Participant, level: str, edition: str | None = None) -> None:
    command = ChangeLevel(
        participant_id=participant.id,
        to_level=level,
        effective_at=ADMITTED + timedelta(days=3),
        reason="review",
        criteria_edition=edition,
    )
    participant.change_level(command, recorded_by=USER, now=NOW)


def test_an_equivalent_level_in_the_other_edition_is_a_recode() -> None:
    """3rd-edition 1 -> 4th-edition 1.5 is LevelRecoded; 2.1 -> 2.1 in the 4th edition too;
    3rd 1 -> 4th 1.0 (remission monitoring) is a step-down; the same code and edition is
    SameLevel."""
    outpatient = admitted("1")
    change(outpatient, "1.5", "4")
    assert isinstance(last(outpatient), Participant.LevelRecoded)
    iop = admitted("2.1")
    change(iop, "2.1", "4")
    assert isinstance(last(iop), Participant.LevelRecoded)
    monitoring = admitted("1")
    change(monitoring, "1.0", "4")
    assert isinstance(last(monitoring), Participant.SteppedDown)
    with pytest.raises(SameLevel):
        change(admitted("2.1"), "2.1")


def prescribe(participant: Participant, started: date, ended: date | None = None) -> str:
    command = Prescribe(
        participant_id=participant.id,
        medication=" Buprenorphine ",
        started_on=started,
        ended_on=ended,
    )
    participant.execute(command, recorded_by=USER, now=NOW)
    return str(last(participant).event_id)


def end(participant: Participant, prescription_id: str, ended: date) -> None:
    command = EndPrescription(
        participant_id=participant.id, prescription_id=UUID(prescription_id), ended_on=ended
    )
    participant.execute(command, recorded_by=USER, now=NOW)


def test_prescriptions_are_recorded_and_ended_once() -> None:
    """A prescription may start before the admission; its medication is stored lower-cased;
    ending it twice is PrescriptionEnded, an unknown id UnknownPrescription, an end before
    its start names ended_on."""
    participant = admitted("2.1")
    started = ADMITTED.date() - timedelta(days=10)
    prescription = prescribe(participant, started)
    event = last(participant)
    assert isinstance(event, Participant.MedicationPrescribed)
    assert (event.medication, event.started_on) == ("buprenorphine", started.isoformat())
    with pytest.raises(UnknownPrescription):
        end(participant, str(participant.id), started)
    with pytest.raises(InvalidValue) as backwards:
        end(participant, prescription, started - timedelta(days=1))
    assert backwards.value.field == "ended_on"
    end(participant, prescription, started + timedelta(days=20))
    with pytest.raises(PrescriptionEnded):
        end(participant, prescription, started + timedelta(days=21))


def summary(participant: Participant, days: int) -> None:
    command = RecordDischargeSummary(
        participant_id=participant.id, completed_at=ADMITTED + timedelta(days=days), text="ok"
    )
    participant.execute(command, recorded_by=USER, now=NOW)


def test_a_discharge_summary_follows_the_discharge() -> None:
    """Before any discharge a summary is NotDischarged; one dated before the discharge is
    BeforeDischarge; one after it is recorded."""
    participant = admitted("2.1")
    with pytest.raises(NotDischarged):
        summary(participant, 5)
    discharge = Discharge(
        participant_id=participant.id,
        discharged_at=ADMITTED + timedelta(days=20),
        reason="completed",
    )
    participant.execute(discharge, recorded_by=USER, now=NOW)
    with pytest.raises(BeforeDischarge):
        summary(participant, 19)
    summary(participant, 25)
    assert isinstance(last(participant), Participant.DischargeSummaryRecorded)


def test_a_reassessment_done_before_the_discharge_may_be_documented_after_it() -> None:
    """After a discharge on day 20, a reassessment dated day 18 is recorded (late entry); one
    dated day 21 is AfterDischarge."""
    participant = admitted("2.1")
    discharge = Discharge(
        participant_id=participant.id,
        discharged_at=ADMITTED + timedelta(days=20),
        reason="completed",
    )
    participant.execute(discharge, recorded_by=USER, now=NOW)

    def reassess(days: int) -> None:
        command = Reassess(
            participant_id=participant.id,
            assessed_at=ADMITTED + timedelta(days=days),
            dimensions=DIMENSIONS,
            recommended_level="1",
            decided_level="1",
            rationale="ready for outpatient",
        )
        participant.execute(command, recorded_by=USER, now=NOW)

    reassess(18)
    assert isinstance(last(participant), Participant.Reassessed)
    with pytest.raises(AfterDischarge):
        reassess(21)


def test_a_stored_policy_with_the_retired_taper_setting_still_loads() -> None:
    """A policy stored with taper_after_step_down_admission loads without it; an unknown
    setting is still refused, naming it."""
    stored = {**DEFAULT_POLICY.to_dict(), "taper_after_step_down_admission": True}
    assert ProgramPolicy.from_dict(stored) == DEFAULT_POLICY
    with pytest.raises(InvalidValue) as unknown:
        ProgramPolicy.from_dict({"taper_after_admission": True})
    assert unknown.value.field == "taper_after_admission"


def test_medication_analytes_default_and_override() -> None:
    """The defaults map buprenorphine to norbuprenorphine and methadone to EDDP; a program
    may map its own; a medication the map does not name stands for itself."""
    assert "norbuprenorphine" in DEFAULT_POLICY.analytes_of("Buprenorphine")
    assert "eddp" in DEFAULT_POLICY.analytes_of("methadone")
    custom = ProgramPolicy.from_dict({"medication_analytes": {"Gabapentin": ["Gabapentin"]}})
    assert custom.analytes_of("gabapentin") == frozenset({"gabapentin"})
    assert DEFAULT_POLICY.analytes_of("lithium") == frozenset({"lithium"})
