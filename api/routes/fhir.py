"""A participant's record as a FHIR R4 Bundle, for EHRs, payers and exchanges downstream.

Clinicians (their programs), auditors and admins read it like any record: written to the access
log first. An integrator receives only the entries its consents cover, now (42 CFR 2.31), and
the disclosure is written to the disclosure log before the bundle is sent; a participant
without such a consent is, to it, not there (404). Consents themselves are never disclosed to
an integrator: a consent names other recipients.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.feed.cloud_events import REDISCLOSURE_HEADER, REDISCLOSURE_NOTICE
from api.fhir.bundle import FHIR_JSON, collection_bundle
from api.fhir.resources import consented_events, participant_resources
from api.http.dependencies import Application, clock
from api.http.reads import (
    LOGGED_READ_RESPONSES,
    Purpose,
    PurposeOfUse,
    get_access_log,
    log_access,
)
from api.routes import ParticipantId
from api.routes.events import get_feed
from api.security.authz import FhirReader, check_participant
from api.security.tokens import Role
from api.storage.access_log import AccessLog
from api.storage.disclosure_log import Disclosure
from domain.errors import ParticipantNotFound

router = APIRouter(tags=["fhir"])

_EXAMPLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "meta": {
        "security": [
            {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "42CFRPart2"}
        ]
    },
    "timestamp": "2026-03-02T12:00:00Z",
    "entry": [
        {
            "fullUrl": "urn:uuid:0b7e5d43-3f0c-5b8e-9a55-3d1f8e6a2c11",
            "resource": {
                "resourceType": "Patient",
                "id": "0b7e5d43-3f0c-5b8e-9a55-3d1f8e6a2c11",
                "active": True,
            },
        }
    ],
}


@router.get(
    "/v1/participants/{participant_id}/fhir",
    response_class=JSONResponse,
    responses={
        200: {
            "description": "A FHIR R4 Bundle (type collection) of the participant's record",
            "content": {FHIR_JSON: {"schema": {"type": "object"}, "example": _EXAMPLE}},
            "headers": {
                REDISCLOSURE_HEADER: {
                    "description": "The 42 CFR 2.32 redisclosure notice",
                    "schema": {"type": "string"},
                }
            },
        },
        404: {"description": "No such participant, or none the caller may see"},
        **LOGGED_READ_RESPONSES,
    },
)
def get_fhir_bundle(
    request: Request,
    participant_id: ParticipantId,
    principal: FhirReader,
    application: Application,
    access_log: Annotated[AccessLog, Depends(get_access_log)],
    now: Annotated[datetime, Depends(clock)],
    purpose: Purpose = PurposeOfUse.TREAT,
) -> JSONResponse:
    """The participant's record as FHIR R4: Patient, EpisodeOfCare, Encounter, Observation,
    Consent; every resource labelled 42CFRPart2 with the redisclosure notice."""
    if principal.role is Role.INTEGRATOR:
        resources = _disclosed_resources(request, participant_id, principal.sub, now)
    else:
        check_participant(principal, application.peek_participant(participant_id))
        log_access(request, access_log, principal, participant_id, "fhir", purpose, now)
        resources = participant_resources(
            participant_id,
            application.stream(participant_id),
            application.consents(participant_id),
            now=now,
        )
    return JSONResponse(
        collection_bundle(resources, timestamp=now),
        media_type=FHIR_JSON,
        headers={REDISCLOSURE_HEADER: REDISCLOSURE_NOTICE},
    )


def _disclosed_resources(
    request: Request, participant_id: UUID, recipient: str, now: datetime
) -> list[dict[str, Any]]:
    feed = get_feed(request)
    application = feed.application
    consents = application.consent_follower()
    events = consented_events(
        application.stream(participant_id),
        lambda kind: consents.permits(participant_id, recipient, kind, now),
    )
    if not events:
        raise ParticipantNotFound(f"no participant {participant_id}")
    disclosed = tuple(event.event_id for event in events)
    feed.log.record([Disclosure(recipient, participant_id, disclosed, now, "fhir")])
    return participant_resources(participant_id, events, now=now)
