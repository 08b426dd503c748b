"""The participant's clinical entries within an episode: sessions, screens, reassessments.

Functions rather than methods so the aggregate module stays one readable size; each checks
its command's rules on the Participant, then triggers the event.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain import participant_records as records
from domain.checks import check_optional_text, check_text
from domain.commands import Reassess, RecordScreening, RecordSession
from domain.levels import LevelOfCare
from domain.values import (
    DimensionRatings,
    Modality,
    ScreeningResult,
    ServiceType,
    check_duration_minutes,
    parse_choice,
)

if TYPE_CHECKING:
    from domain.participant import Participant


def record_session(
    participant: Participant, command: RecordSession, *, recorded_by: str, now: datetime
) -> None:
    """An attended or missed session, within the open episode."""
    parsed_service = parse_choice(ServiceType, command.service, "service")
    check_duration_minutes(command.duration_minutes)
    modality = command.modality
    parsed_modality = None if modality is None else parse_choice(Modality, modality, "modality")
    check_optional_text(command.track, "track")
    participant.check_active_at(command.started_at, "started_at", now)
    participant.record(
        participant.SessionAttended if command.attended else participant.SessionMissed,
        command.started_at,
        recorded_by,
        now,
        service=parsed_service.value,
        duration_minutes=command.duration_minutes,
        modality=parsed_modality.value if parsed_modality else None,
        track=command.track,
    )


def record_screening(
    participant: Participant, command: RecordScreening, *, recorded_by: str, now: datetime
) -> None:
    """A screen's result, collected within the open episode."""
    screening = ScreeningResult.parse(
        command.specimen, command.status, command.results, command.prescribed
    )
    participant.check_active_at(command.collected_at, "collected_at", now)
    participant.record(
        participant.ScreeningResultRecorded,
        command.collected_at,
        recorded_by,
        now,
        specimen=screening.specimen.value,
        status=screening.status.value,
        results={name: result.value for name, result in sorted(screening.results.items())},
        prescribed=sorted(screening.prescribed),
    )


def reassess(
    participant: Participant, command: Reassess, *, recorded_by: str, now: datetime
) -> None:
    """A reassessment, within the open episode or late for the one just closed."""
    ratings = DimensionRatings.parse(command.dimensions)
    current = records.late_in_last_episode(
        participant, command.assessed_at, now
    ) or participant.check_active_at(command.assessed_at, "assessed_at", now)
    edition = command.criteria_edition or current.edition.value
    recommended = LevelOfCare.parse(command.recommended_level, edition, field="recommended_level")
    decided = LevelOfCare.parse(command.decided_level, edition, field="decided_level")
    check_text(command.rationale, "rationale", required=False)
    participant.record(
        participant.Reassessed,
        command.assessed_at,
        recorded_by,
        now,
        dimensions=ratings.as_dict(),
        recommended_level=recommended.code,
        decided_level=decided.code,
        criteria_edition=decided.edition.value,
        rationale=command.rationale,
    )
