"""The records kept beside a participant's journey: prescriptions (whose analytes make a
positive screen expected), Medicare recertifications and discharge summaries."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response

from api.http.dependencies import Write
from api.routes import ParticipantId
from api.routes.participants import WRITE_ERRORS, created
from api.schemas.participants import WriteReceipt
from api.schemas.records import (
    DischargeSummaryRequest,
    PrescriptionEndRequest,
    PrescriptionReceipt,
    PrescriptionRequest,
    RecertificationRequest,
)

router = APIRouter(prefix="/v1/participants", tags=["participants"])

PrescriptionId = Annotated[UUID, Path(description="The prescription's id (a UUID)")]


@router.post(
    "/{participant_id}/prescriptions",
    status_code=201,
    response_model=PrescriptionReceipt,
    responses=WRITE_ERRORS,
)
def prescribe(
    participant_id: ParticipantId,
    body: PrescriptionRequest,
    write: Write,
) -> Response:
    """Record a prescription; its analytes make a positive screen expected while active."""
    recorded = write.execute(body.to_command(participant_id), body)
    return created(recorded, PrescriptionReceipt.of_prescription(recorded))


@router.post(
    "/{participant_id}/prescriptions/{prescription_id}/end",
    status_code=201,
    response_model=WriteReceipt,
    responses=WRITE_ERRORS,
)
def end_prescription(
    participant_id: ParticipantId,
    prescription_id: PrescriptionId,
    body: PrescriptionEndRequest,
    write: Write,
) -> Response:
    """Record the day a prescription ended."""
    command = body.for_prescription(participant_id, prescription_id)
    return created(write.execute(command, body))


@router.post(
    "/{participant_id}/recertifications",
    status_code=201,
    response_model=WriteReceipt,
    responses=WRITE_ERRORS,
)
def record_recertification(
    participant_id: ParticipantId,
    body: RecertificationRequest,
    write: Write,
) -> Response:
    """Record a physician's recertification of the need for the program (Medicare IOP)."""
    return created(write.execute(body.to_command(participant_id), body))


@router.post(
    "/{participant_id}/discharge-summary",
    status_code=201,
    response_model=WriteReceipt,
    responses=WRITE_ERRORS,
)
def record_discharge_summary(
    participant_id: ParticipantId,
    body: DischargeSummaryRequest,
    write: Write,
) -> Response:
    """Record the completed discharge summary of the last, discharged episode."""
    return created(write.execute(body.to_command(participant_id), body))
