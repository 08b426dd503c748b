"""Who may do what: the one role table, and the program scope of clinicians.

Routes state the action they perform with a dependency, `require(Action.X)`, and never test
roles themselves. Clinicians are further limited to the participants of their `programs`: a
participant of another program answers exactly as a missing one does (404), so a clinician
cannot learn who is treated elsewhere.

| action          | clinician        | auditor | integrator | admin |
|-----------------|------------------|---------|------------|-------|
| read_record     | own programs     | yes     | no         | yes   |
| write_record    | own programs     | no      | no         | yes   |
| read_feed       | no               | yes     | yes        | yes   |
| read_audit      | no               | yes     | no         | yes   |
| read_policy     | yes              | yes     | no         | yes   |
| read_fhir       | own programs     | yes     | consented  | yes   |
| change_policy   | no               | no      | no         | yes   |
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request

from api.schemas.participants import ErrorBody
from api.security.identity import Credentials, Principal, bearer_scheme, current_principal
from api.security.tokens import Role
from domain.application import ContinuumApplication
from domain.errors import ParticipantNotFound
from domain.participant import Participant


class Action(StrEnum):
    READ_RECORD = "read_record"  # one participant's record, or a caseload listing
    WRITE_RECORD = "write_record"  # any command on a participant's stream
    READ_FEED = "read_feed"  # the event feed for downstream systems
    READ_AUDIT = "read_audit"  # the access log
    READ_POLICY = "read_policy"
    # A participant's record as FHIR: an integrator gets only what its consents cover.
    READ_FHIR = "read_fhir"
    CHANGE_POLICY = "change_policy"


PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    Role.CLINICIAN: frozenset(
        {Action.READ_RECORD, Action.WRITE_RECORD, Action.READ_POLICY, Action.READ_FHIR}
    ),
    Role.AUDITOR: frozenset(
        {
            Action.READ_RECORD,
            Action.READ_FEED,
            Action.READ_AUDIT,
            Action.READ_POLICY,
            Action.READ_FHIR,
        }
    ),
    Role.INTEGRATOR: frozenset({Action.READ_FEED, Action.READ_FHIR}),
    Role.ADMIN: frozenset(Action),
}
# Roles that see only the participants of the programs their token names.
PROGRAM_SCOPED_ROLES = frozenset({Role.CLINICIAN})

# Documented on every authenticated router (app.include_router(..., responses=...)). 422 is
# here too: every refusal has the ErrorBody shape, not FastAPI's default HTTPValidationError,
# and a route's own `responses` still take precedence.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, malformed, expired or forged token"},
    403: {"model": ErrorBody, "description": "The caller's role or program may not do this"},
    422: {"model": ErrorBody, "description": "Malformed input; `field` names it"},
    429: {
        "model": ErrorBody,
        "description": "Too many failed authentications from this address; see Retry-After",
    },
    503: {
        "model": ErrorBody,
        "description": "The identity provider's keys (CONTINUUM_JWT_JWKS_URL) could not be "
        "fetched; see Retry-After",
    },
}


class Forbidden(Exception):
    """The caller is known but its role or program may not do this (403)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def may(principal: Principal, action: Action) -> bool:
    return action in PERMISSIONS[principal.role]


def require(action: Action) -> Callable[[Request, Credentials], Awaitable[Principal]]:
    """A dependency that authenticates the caller and refuses (403) a role without `action`."""

    async def permitted(request: Request, credentials: Credentials) -> Principal:
        # async: no I/O (a known token is a lookup), so no threadpool hop. current_principal is
        # called, not depended on: each dependency node costs every request ~10 us of FastAPI's
        # solving (a route of 9 nodes took 143-162 us per request, of 4 nodes 111-116 us:
        # docs/performance.md, "Fewer dependency nodes"), and authentication is under every route.
        return permit(await current_principal(request, credentials), action)

    permitted.__name__ = f"require_{action.value}"
    return permitted


async def authorized(request: Request, action: Action) -> Principal:
    """What `require(action)` answers, for a dependency that authenticates its caller itself
    (reading the bearer token from the request) instead of depending on `require`."""
    return permit(await current_principal(request, await bearer_scheme(request)), action)


def permit(principal: Principal, action: Action) -> Principal:
    """The principal, if its role may do `action`; 403 otherwise."""
    if not may(principal, action):
        raise Forbidden(f"the role {principal.role} may not {action.value.replace('_', ' ')}")
    return principal


def visible_programs(principal: Principal) -> frozenset[str] | None:
    """The programs whose participants the caller may see; None means every program."""
    if principal.role in PROGRAM_SCOPED_ROLES:
        return frozenset(principal.programs)
    return None


def sees_program(principal: Principal, program_id: str) -> bool:
    programs = visible_programs(principal)
    return programs is None or program_id in programs


def check_program(principal: Principal, program_id: str) -> None:
    """Refuse (403) an action in a program the caller is not scoped to, e.g. an admission."""
    if not sees_program(principal, program_id):
        raise Forbidden("the caller's token does not name this program")


def check_participant(principal: Principal, participant: Participant) -> None:
    """A participant of a program the caller cannot see is, to the caller, not there (404)."""
    if not sees_program(principal, participant.program_id):
        raise ParticipantNotFound(f"no participant {participant.id}")


def scoped_participant(
    application: ContinuumApplication, principal: Principal, participant_id: UUID
) -> Participant:
    """The participant, if it exists and the caller may see it; ParticipantNotFound otherwise.

    The cached participant, shared and not copied (`peek_participant`): read it, never mutate it.
    """
    participant = application.peek_participant(participant_id)
    check_participant(principal, participant)
    return participant


def check_admission(
    application: ContinuumApplication,
    principal: Principal,
    program_id: str,
    participant_id: UUID | None,
) -> None:
    """A caller admits only into programs it is scoped to (403), and readmits only
    participants it can see (404, as if missing)."""
    check_program(principal, program_id)
    if participant_id is None or visible_programs(principal) is None:
        return
    try:
        existing = application.peek_participant(participant_id)
    except ParticipantNotFound:
        return  # a new participant with a caller-chosen id
    check_participant(principal, existing)


Reader = Annotated[Principal, Depends(require(Action.READ_RECORD))]
Writer = Annotated[Principal, Depends(require(Action.WRITE_RECORD))]
FeedReader = Annotated[Principal, Depends(require(Action.READ_FEED))]
Auditor = Annotated[Principal, Depends(require(Action.READ_AUDIT))]
PolicyReader = Annotated[Principal, Depends(require(Action.READ_POLICY))]
PolicyChanger = Annotated[Principal, Depends(require(Action.CHANGE_POLICY))]
FhirReader = Annotated[Principal, Depends(require(Action.READ_FHIR))]
