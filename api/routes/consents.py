"""Consents to disclose (42 CFR Part 2): granted and revoked by the participant's clinicians."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Response

from api.http.dependencies import Application, clock
from api.http.reads import LoggedRead, RecordRead
from api.routes import ParticipantId
from api.schemas.feed import (
    ConsentList,
    ConsentReceipt,
    ConsentRequest,
    ConsentView,
    RevocationRequest,
)
from api.schemas.participants import ErrorBody
from api.security.authz import Writer, scoped_participant

router = APIRouter(prefix="/v1/participants/{participant_id}/consents", tags=["consents"])

ConsentId = Annotated[UUID, Path(description="The consent's id (a UUID)")]
Now = Annotated[datetime, Depends(clock)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "The caller's role may not do this"},
    404: {"model": ErrorBody, "description": "No such participant or consent"},
    409: {"model": ErrorBody, "description": "Already revoked, or the consent id exists"},
    422: {"model": ErrorBody, "description": "Malformed input; `field` names it"},
}


@router.post("", status_code=201, response_model=ConsentReceipt, responses=_ERRORS)
def grant_consent(
    participant_id: ParticipantId,
    body: ConsentRequest,
    principal: Writer,
    application: Application,
    now: Now,
) -> ConsentReceipt:
    """Record the participant's consent to disclose events of `scope` to one recipient."""
    scoped_participant(application, principal, participant_id)
    recorded = application.execute(
        body.to_command(participant_id), recorded_by=principal.sub, now=now
    )
    return ConsentReceipt.read(recorded)


@router.post(
    "/{consent_id}/revoke",
    status_code=201,
    response_model=ConsentReceipt,
    responses={
        **_ERRORS,
        200: {
            "model": ConsentReceipt,
            "description": "Already revoked: the first revocation's receipt (nothing recorded)",
        },
        409: {"model": ErrorBody, "description": "The consent changed concurrently"},
    },
)
def revoke_consent(
    participant_id: ParticipantId,
    consent_id: ConsentId,
    body: RevocationRequest,
    principal: Writer,
    application: Application,
    response: Response,
    now: Now,
) -> ConsentReceipt:
    """End a consent now: nothing more is disclosed under it, from any position. Retrying
    (the consent already revoked) answers 200 with the same receipt and records nothing."""
    scoped_participant(application, principal, participant_id)
    recorded = application.execute(
        body.to_command(participant_id, consent_id), recorded_by=principal.sub, now=now
    )
    if not recorded.recorded:
        response.status_code = 200
    return ConsentReceipt.read(recorded)


@router.get("", response_model=ConsentList, responses=_ERRORS)
def list_consents(
    read: Annotated[RecordRead, Depends(LoggedRead("consents"))],
) -> ConsentList:
    """The participant's consents, in the order they were granted, with their status now."""
    participant_id = read.participant.id  # the path's, read and validated by LoggedRead
    consents = read.application.consents(participant_id)
    return ConsentList(
        participant_id=participant_id, consents=[ConsentView.of(c, read.now) for c in consents]
    )
