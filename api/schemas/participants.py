"""HTTP request and response shapes, kept apart from the domain's events.

Requests forbid unknown fields and take strict JSON types (a bool is `true`, not `"yes"`; a
duration is a number, not `"60"`). Times must carry a UTC offset. Closed vocabularies reuse the
domain's enums so the OpenAPI document lists their values; level codes depend on the criteria
edition, so the domain checks those and names the field itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)

from api.schemas.problems import ErrorBody, FieldError, Health
from api.schemas.reply import Reply
from domain.checks import MAX_TEXT
from domain.commands import (
    Admit,
    ChangeLevel,
    CorrectEntry,
    Discharge,
    ParticipantCommand,
    Reassess,
    RecordScreening,
    RecordSession,
)
from domain.levels import CriteriaEdition
from domain.participant import Participant
from domain.timeline import TimelineEntry
from domain.values import (
    AgeGroup,
    DischargeReason,
    Modality,
    Pathway,
    ServiceType,
    Specimen,
    SpecimenStatus,
    SubstanceResult,
)

EARLIEST_YEAR = 1900
MINUTES_PER_DAY = 24 * 60


def _iso_text(value: object) -> object:
    # Lax pydantic would read a bare number as a Unix timestamp; the contract says ISO 8601.
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time with offset, e.g. 2026-02-02T09:00:00Z")
    return value


def _plausible(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    if value.year < EARLIEST_YEAR:
        raise ValueError(f"must not be earlier than {EARLIEST_YEAR}")
    return value


def _storable(value: str) -> str:
    # A lone surrogate (legal in JSON escapes) cannot be stored as UTF-8.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _edition_text(value: object) -> object:
    # Editions are spelled "3"/"4"; a client sending the number means the same edition.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_plausible)]
Text = Annotated[StrictStr, Field(max_length=MAX_TEXT), AfterValidator(_storable)]
Identifier = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_storable)]
LevelCode = Annotated[StrictStr, Field(max_length=16, examples=["2.1"])]
SubstanceName = Annotated[StrictStr, Field(max_length=64), AfterValidator(_storable)]
Edition = Annotated[CriteriaEdition, BeforeValidator(_edition_text)]
Rating = Annotated[StrictInt, Field(ge=0, le=4)]


class CommandRequest(BaseModel):
    """A write's body: its fields are the fields of the command it builds (domain.commands)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True, frozen=True)

    def canonical(self) -> dict[str, Any]:
        """The request as JSON-safe data, for fingerprinting Idempotency-Key requests."""
        return self.model_dump(mode="json")


class RecordRequest(CommandRequest):
    """The body of a write to a participant named in the path."""

    def to_command(self, participant_id: UUID) -> ParticipantCommand:
        raise NotImplementedError


class AdmissionRequest(CommandRequest):
    program_id: Identifier
    age_group: AgeGroup
    level: LevelCode
    pathway: Pathway
    admitted_at: Instant
    participant_id: UUID | None = None
    referred_from_level: LevelCode | None = None
    criteria_edition: Edition = CriteriaEdition.THIRD

    def to_command(self) -> Admit:
        return Admit(
            participant_id=self.participant_id,
            program_id=self.program_id,
            age_group=self.age_group,
            level=self.level,
            pathway=self.pathway,
            admitted_at=self.admitted_at,
            referred_from_level=self.referred_from_level,
            criteria_edition=self.criteria_edition,
        )


class LevelChangeRequest(RecordRequest):
    to_level: LevelCode
    effective_at: Instant
    reason: Text
    criteria_edition: Edition | None = None

    def to_command(self, participant_id: UUID) -> ChangeLevel:
        return ChangeLevel(
            participant_id=participant_id,
            to_level=self.to_level,
            effective_at=self.effective_at,
            reason=self.reason,
            criteria_edition=self.criteria_edition,
        )


class SessionRequest(RecordRequest):
    service: ServiceType
    started_at: Instant
    duration_minutes: Annotated[StrictInt, Field(gt=0, lt=MINUTES_PER_DAY)]
    attended: StrictBool
    modality: Modality | None = None
    track: Text | None = None

    def to_command(self, participant_id: UUID) -> RecordSession:
        return RecordSession(
            participant_id=participant_id,
            service=self.service,
            started_at=self.started_at,
            duration_minutes=self.duration_minutes,
            attended=self.attended,
            modality=self.modality,
            track=self.track,
        )


class ScreeningRequest(RecordRequest):
    collected_at: Instant
    specimen: Specimen
    status: SpecimenStatus
    results: dict[SubstanceName, SubstanceResult]
    prescribed: Annotated[list[SubstanceName], Field(max_length=100)] = []

    def to_command(self, participant_id: UUID) -> RecordScreening:
        return RecordScreening(
            participant_id=participant_id,
            collected_at=self.collected_at,
            specimen=self.specimen,
            status=self.status,
            results=dict(self.results),
            prescribed=list(self.prescribed),
        )


class DimensionRatingsBody(BaseModel):
    """The six ASAM dimension ratings, each 0 (none) to 4 (severe)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    d1: Rating
    d2: Rating
    d3: Rating
    d4: Rating
    d5: Rating
    d6: Rating


class ReassessmentRequest(RecordRequest):
    assessed_at: Instant
    dimensions: DimensionRatingsBody
    recommended_level: LevelCode
    decided_level: LevelCode
    rationale: Text
    criteria_edition: Edition | None = None

    def to_command(self, participant_id: UUID) -> Reassess:
        return Reassess(
            participant_id=participant_id,
            assessed_at=self.assessed_at,
            dimensions=self.dimensions.model_dump(),
            recommended_level=self.recommended_level,
            decided_level=self.decided_level,
            rationale=self.rationale,
            criteria_edition=self.criteria_edition,
        )


class DischargeRequest(RecordRequest):
    discharged_at: Instant
    reason: DischargeReason
    to_level: LevelCode | None = None

    def to_command(self, participant_id: UUID) -> Discharge:
        return Discharge(
            participant_id=participant_id,
            discharged_at=self.discharged_at,
            reason=self.reason,
            to_level=self.to_level,
        )


class CorrectionRequest(RecordRequest):
    event_id: UUID
    reason: Text

    def to_command(self, participant_id: UUID) -> CorrectEntry:
        return CorrectEntry(
            participant_id=participant_id, event_id=self.event_id, reason=self.reason
        )


# ---- responses ---------------------------------------------------------------------------


class WriteReceipt(Reply):
    """What a write returns: the event it appended, the stream version and log position."""

    participant_id: UUID
    event_id: UUID
    version: int
    position: int | None


class ParticipantView(Reply):
    participant_id: UUID
    program_id: str
    status: str
    level: str | None
    level_since: datetime | None
    version: int
    episode: int
    age_group: str | None
    criteria_edition: str | None
    admitted_at: datetime | None
    discharged_at: datetime | None

    @classmethod
    def of(cls, participant: Participant) -> ParticipantView:
        return cls.read(
            participant,
            participant_id=participant.id,
            level=participant.level_code,
            criteria_edition=participant.level_edition,
        )


class TimelineEvent(BaseModel):
    event_id: UUID
    type: str
    occurred_at: datetime
    recorded_at: datetime
    recorded_by: str
    version: int
    data: dict[str, Any]
    corrected: bool
    corrected_by: UUID | None
    # The tamper-evidence chain: this event's hash and the previous event's (None for events
    # stored before the chain existed).
    hash: str | None
    previous_hash: str | None

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineEvent:
        event = entry.event
        return cls(
            event_id=event.event_id,
            type=type(event).__name__,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            recorded_by=event.recorded_by,
            version=event.originator_version,
            data={name: _json_safe(value) for name, value in event.clinical_fields().items()},
            corrected=entry.corrected,
            corrected_by=entry.corrected_by,
            hash=event.event_hash,
            previous_hash=event.previous_hash,
        )


class Timeline(BaseModel):
    participant_id: UUID
    events: list[TimelineEvent]


def _json_safe(value: object) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _json_safe(value.value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    return value


# The problem details every route documents, defined in api.schemas.problems.
__all__ = ["ErrorBody", "FieldError", "Health"]
