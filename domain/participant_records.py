"""The participant's records beside the journey: prescriptions, recertifications, summaries.

Kept apart from domain.participant so each module stays one readable size; each function is
one command on a Participant, checking its rules before the event is triggered.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from domain.checks import check_optional_text, check_text
from domain.commands import (
    CorrectEntry,
    EndPrescription,
    Prescribe,
    RecordDischargeSummary,
    RecordRecertification,
)
from domain.errors import (
    AlreadyCorrected,
    BeforeDischarge,
    InTheFuture,
    InvalidValue,
    NotAdmitted,
    NotCorrectable,
    NotDischarged,
    PrescriptionEnded,
    UnknownEvent,
    UnknownPrescription,
)
from domain.levels import LevelOfCare
from domain.participant_events import CORRECTABLE_ENTRIES

if TYPE_CHECKING:
    from domain.participant import Participant

MAX_MEDICATION = 64  # a lab's analyte names are short; the same bound as a screen's substances


def prescribe(
    participant: Participant, command: Prescribe, *, recorded_by: str, now: datetime
) -> None:
    """A prescription may have started before the admission; it is recorded in an episode."""
    medication = _medication(command.medication)
    if participant.status == "registered" or participant.admitted_at is None:
        raise NotAdmitted("participant has no episode")
    if command.started_on > now.date():
        raise InTheFuture(f"started_on {command.started_on.isoformat()} is later than today")
    if command.ended_on is not None and command.ended_on < command.started_on:
        raise InvalidValue("ended_on", "must not be before started_on")
    participant.record(
        participant.MedicationPrescribed,
        datetime.combine(command.started_on, time.min, tzinfo=UTC),
        recorded_by,
        now,
        medication=medication,
        started_on=command.started_on.isoformat(),
        ended_on=None if command.ended_on is None else command.ended_on.isoformat(),
    )


def end_prescription(
    participant: Participant, command: EndPrescription, *, recorded_by: str, now: datetime
) -> None:
    prescription_id = str(command.prescription_id)
    if prescription_id not in participant.prescriptions:
        raise UnknownPrescription(f"no prescription {prescription_id} on this record")
    started, ended = participant.prescriptions[prescription_id]
    if ended is not None:
        raise PrescriptionEnded(f"prescription {prescription_id} already ended on {ended}")
    if command.ended_on.isoformat() < str(started):
        raise InvalidValue("ended_on", "must not be before the prescription's started_on")
    participant.record(
        participant.MedicationEnded,
        datetime.combine(command.ended_on, time.min, tzinfo=UTC),
        recorded_by,
        now,
        prescription_id=prescription_id,
        ended_on=command.ended_on.isoformat(),
    )


def record_recertification(
    participant: Participant, command: RecordRecertification, *, recorded_by: str, now: datetime
) -> None:
    check_optional_text(command.note, "note", required=False)
    participant.check_active_at(command.certified_at, "certified_at", now)
    participant.record(
        participant.RecertificationRecorded,
        command.certified_at,
        recorded_by,
        now,
        note=command.note,
    )


def record_discharge_summary(
    participant: Participant, command: RecordDischargeSummary, *, recorded_by: str, now: datetime
) -> None:
    """A summary belongs to the last, discharged episode and is written after its discharge."""
    check_optional_text(command.text, "text", required=False)
    participant.check_time(command.completed_at, "completed_at", now)
    if participant.status != "discharged" or participant.discharged_at is None:
        raise NotDischarged("a discharge summary needs a discharged episode")
    if command.completed_at < participant.discharged_at:
        raise BeforeDischarge(
            f"completed_at is before the discharge ({participant.discharged_at.isoformat()})"
        )
    participant.record(
        participant.DischargeSummaryRecorded,
        command.completed_at,
        recorded_by,
        now,
        text=command.text,
    )


def correct_entry(
    participant: Participant, command: CorrectEntry, *, recorded_by: str, now: datetime
) -> None:
    """The correction's `occurred_at` is when it is recorded: the mistake is found now."""
    event_id = command.event_id
    check_text(command.reason, "reason")
    entry_type = participant.entries.get(str(event_id))
    if entry_type is None:
        raise UnknownEvent(f"event {event_id} is not in this participant's stream")
    if entry_type not in CORRECTABLE_ENTRIES:
        raise NotCorrectable(
            f"a {entry_type} entry cannot be marked entered-in-error; "
            "record the right level change, discharge or readmission instead"
        )
    if str(event_id) in participant.corrected:
        raise AlreadyCorrected(f"event {event_id} is already marked entered-in-error")
    participant.record(
        participant.EntryCorrected,
        now,
        recorded_by,
        now,
        corrected_event_id=event_id,
        reason=command.reason,
    )


def late_in_last_episode(
    participant: Participant, assessed_at: datetime, now: datetime
) -> LevelOfCare | None:
    """A reassessment done before the discharge may be documented after it (a late entry):
    the level it was done at, or None when the participant is not discharged or `assessed_at`
    is not within the last episode."""
    admitted_at, discharged_at = participant.admitted_at, participant.discharged_at
    if participant.status != "discharged" or admitted_at is None or discharged_at is None:
        return None
    participant.check_time(assessed_at, "assessed_at", now)
    if not admitted_at <= assessed_at <= discharged_at:
        return None
    return participant.level


def _medication(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_MEDICATION:
        raise InvalidValue(
            "medication", f"is non-empty text of at most {MAX_MEDICATION} characters"
        )
    return name.strip().lower()
