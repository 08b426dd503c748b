"""Request shapes of the records kept beside the journey: prescriptions, Medicare
recertifications and discharge summaries. Each builds its command (domain.commands)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import Field

from api.schemas.participants import Instant, RecordRequest, SubstanceName, Text, WriteReceipt
from domain.commands import (
    EndPrescription,
    Prescribe,
    RecordDischargeSummary,
    Recorded,
    RecordRecertification,
)

# The same bounds as a screen's substance names, which a medication's analytes are matched to.
Medication = Annotated[SubstanceName, Field(min_length=1, examples=["buprenorphine"])]


class PrescriptionRequest(RecordRequest):
    medication: Medication
    started_on: date
    ended_on: date | None = None

    def to_command(self, participant_id: UUID) -> Prescribe:
        return Prescribe(
            participant_id=participant_id,
            medication=self.medication,
            started_on=self.started_on,
            ended_on=self.ended_on,
        )


class PrescriptionEndRequest(RecordRequest):
    ended_on: date

    def for_prescription(self, participant_id: UUID, prescription_id: UUID) -> EndPrescription:
        return EndPrescription(
            participant_id=participant_id, prescription_id=prescription_id, ended_on=self.ended_on
        )


class RecertificationRequest(RecordRequest):
    certified_at: Instant
    note: Text | None = None

    def to_command(self, participant_id: UUID) -> RecordRecertification:
        return RecordRecertification(
            participant_id=participant_id, certified_at=self.certified_at, note=self.note
        )


class DischargeSummaryRequest(RecordRequest):
    completed_at: Instant
    text: Text | None = None

    def to_command(self, participant_id: UUID) -> RecordDischargeSummary:
        return RecordDischargeSummary(
            participant_id=participant_id, completed_at=self.completed_at, text=self.text
        )


class PrescriptionReceipt(WriteReceipt):
    """A write receipt naming the prescription it recorded (the event's id)."""

    prescription_id: UUID

    @classmethod
    def of_prescription(cls, recorded: Recorded) -> PrescriptionReceipt:
        return cls(
            participant_id=recorded.participant_id,
            event_id=recorded.event_id,
            version=recorded.version,
            position=recorded.position,
            prescription_id=recorded.event_id,
        )
