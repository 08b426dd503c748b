"""Commands with the values made-up records rarely vary: for seeding, benchmarks and tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

from domain.commands import (
    Admit,
    ChangeLevel,
    CorrectEntry,
    Discharge,
    GrantConsent,
    Reassess,
    RecordScreening,
    RecordSession,
)

# Six made-up ASAM dimension ratings (0 none to 4 severe), all low or moderate.
STABLE: Mapping[str, int] = {"d1": 1, "d2": 0, "d3": 1, "d4": 2, "d5": 2, "d6": 1}


def admission(
    admitted_at: datetime,
    *,
    program_id: str,
    level: str,
    participant_id: UUID | None = None,
    age_group: str = "adult",
    pathway: str = "primary",
    criteria_edition: str = "3",
    referred_from_level: str | None = None,
) -> Admit:
    return Admit(
        participant_id=participant_id,
        program_id=program_id,
        age_group=age_group,
        level=level,
        pathway=pathway,
        admitted_at=admitted_at,
        referred_from_level=referred_from_level,
        criteria_edition=criteria_edition,
    )


def recorded_session(
    participant_id: UUID,
    started_at: datetime,
    duration_minutes: int,
    *,
    service: str = "group",
    attended: bool = True,
    modality: str | None = None,
    track: str | None = None,
) -> RecordSession:
    return RecordSession(
        participant_id=participant_id,
        service=service,
        started_at=started_at,
        duration_minutes=duration_minutes,
        attended=attended,
        modality=modality,
        track=track,
    )


def screening(
    participant_id: UUID,
    collected_at: datetime,
    *,
    status: str = "valid",
    results: Mapping[str, str] | None = None,
    prescribed: Sequence[str] = (),
) -> RecordScreening:
    """A urine screen; a valid one without results is negative for opioids."""
    if results is None:
        results = {"opioids": "negative"} if status == "valid" else {}
    return RecordScreening(
        participant_id=participant_id,
        collected_at=collected_at,
        specimen="urine",
        status=status,
        results=results,
        prescribed=prescribed,
    )


def reassessment(
    participant_id: UUID,
    assessed_at: datetime,
    *,
    dimensions: Mapping[str, object] = STABLE,
    recommended: str = "2.1",
    decided: str = "2.1",
    rationale: str = "stable",
) -> Reassess:
    return Reassess(
        participant_id=participant_id,
        assessed_at=assessed_at,
        dimensions=dimensions,
        recommended_level=recommended,
        decided_level=decided,
        rationale=rationale,
    )


def level_change(
    participant_id: UUID, to_level: str, effective_at: datetime, *, reason: str = "reassessed"
) -> ChangeLevel:
    return ChangeLevel(
        participant_id=participant_id, to_level=to_level, effective_at=effective_at, reason=reason
    )


def discharge(
    participant_id: UUID, discharged_at: datetime, *, reason: str = "completed"
) -> Discharge:
    return Discharge(participant_id=participant_id, discharged_at=discharged_at, reason=reason)


def correction(
    participant_id: UUID, event_id: UUID, *, reason: str = "wrong chart"
) -> CorrectEntry:
    return CorrectEntry(participant_id=participant_id, event_id=event_id, reason=reason)


def consent(
    participant_id: UUID,
    recipient_id: str,
    expires_at: datetime,
    *,
    scope: Sequence[str] = ("all",),
) -> GrantConsent:
    """The participant's consent to disclose `scope` (every event type by default)."""
    return GrantConsent(
        participant_id=participant_id,
        recipient_id=recipient_id,
        scope=list(scope),
        expires_at=expires_at,
    )
