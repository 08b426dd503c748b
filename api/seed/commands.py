"""Commands with the values made-up records rarely vary: for seeding, benchmarks and tests."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.commands import Admit, RecordSession


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
