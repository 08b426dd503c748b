"""Made-up participants for tests: one admission instant, one recorder, one program, and (from
api.seed.commands, re-exported so a test imports its builders from one place) every participant
command with the values a test rarely varies."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from api.seed.commands import (
    STABLE,
    admission,
    correction,
    discharge,
    level_change,
    reassessment,
    recorded_session,
    screening,
)
from domain.application import ContinuumApplication
from domain.participant import Participant

USER = "clinician-1"
PROGRAM = "prog-1"
ADMITTED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DIMENSIONS = dict(STABLE)

__all__ = [
    "ADMITTED",
    "DIMENSIONS",
    "PROGRAM",
    "USER",
    "admission",
    "admit",
    "admitted",
    "correction",
    "discharge",
    "level_change",
    "reassessment",
    "recorded_session",
    "screening",
]


def admitted(
    *,
    now: datetime,
    participant_id: UUID | None = None,
    level: str = "3.5",
    edition: str = "3",
) -> Participant:
    """A participant of PROGRAM registered and admitted at ADMITTED by USER, events pending."""
    participant = Participant.register(
        participant_id or uuid4(), PROGRAM, occurred_at=ADMITTED, recorded_by=USER, now=now
    )
    participant.admit(
        admission(
            ADMITTED,
            participant_id=participant.id,
            program_id=PROGRAM,
            level=level,
            criteria_edition=edition,
        ),
        recorded_by=USER,
        now=now,
    )
    return participant


def admit(app: ContinuumApplication, *, now: datetime, level: str = "2.1") -> UUID:
    """A new participant of PROGRAM admitted at ADMITTED through `app`; its id."""
    return app.execute(
        admission(ADMITTED, program_id=PROGRAM, level=level), recorded_by="intake", now=now
    ).participant_id
