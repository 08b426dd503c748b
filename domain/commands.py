"""Every write the application accepts, as a typed value, and the receipts writes return.

A command names its fields as the HTTP request does (`started_at`, `assessed_at`, ...); the
request schema builds it (`to_command`), the application loads the aggregate it targets and
hands it over, and the aggregate method that records the event maps the command's time field
onto the event's `occurred_at` (the name every stored event uses). Who records a command and
when (`recorded_by`, `now`) are not part of it: the caller's session and clock supply them.

Values arrive validated in shape (types, vocabularies) by the request schema; the aggregate
still checks every rule, so a command built elsewhere (the pages, the generator, a test) is
refused in the same terms.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

# ---- participant commands: each appends one event to the participant's stream ---------------


@dataclass(frozen=True, kw_only=True)
class Admit:
    """Admit a new participant, or readmit a discharged one into a new episode."""

    participant_id: UUID | None = None  # None: a new participant, with a new id
    program_id: str
    age_group: str
    level: str
    pathway: str
    admitted_at: datetime
    referred_from_level: str | None = None
    criteria_edition: str = "3"


@dataclass(frozen=True, kw_only=True)
class ChangeLevel:
    """Move the participant to another level; a step-down or step-up by comparing levels."""

    participant_id: UUID
    to_level: str
    effective_at: datetime
    reason: str
    criteria_edition: str | None = None  # None: the current level's edition


@dataclass(frozen=True, kw_only=True)
class RecordSession:
    """A session the participant attended (`attended`) or missed."""

    participant_id: UUID
    service: str
    started_at: datetime
    duration_minutes: int
    attended: bool
    modality: str | None = None
    track: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordScreening:
    """A drug screen's specimen status and per-substance results."""

    participant_id: UUID
    collected_at: datetime
    specimen: str
    status: str
    results: Mapping[str, str]
    prescribed: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class Reassess:
    """A reassessment: the six dimension ratings, the recommended and the decided level."""

    participant_id: UUID
    assessed_at: datetime
    dimensions: Mapping[str, object]
    recommended_level: str
    decided_level: str
    rationale: str
    criteria_edition: str | None = None  # None: the current level's edition


@dataclass(frozen=True, kw_only=True)
class Discharge:
    """Close the participant's current episode."""

    participant_id: UUID
    discharged_at: datetime
    reason: str
    to_level: str | None = None  # the level referred to, if any


@dataclass(frozen=True, kw_only=True)
class CorrectEntry:
    """Mark an earlier entry entered-in-error, with the reason; both stay in the history."""

    participant_id: UUID
    event_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class Prescribe:
    """A medication prescribed to the participant, from `started_on` (to `ended_on`, if known)."""

    participant_id: UUID
    medication: str
    started_on: date
    ended_on: date | None = None


@dataclass(frozen=True, kw_only=True)
class EndPrescription:
    """A prescription on the record ended on `ended_on`."""

    participant_id: UUID
    prescription_id: UUID
    ended_on: date


@dataclass(frozen=True, kw_only=True)
class RecordRecertification:
    """A physician recertified the need for the program (Medicare IOP)."""

    participant_id: UUID
    certified_at: datetime
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordDischargeSummary:
    """The discharge summary of the participant's last episode was completed."""

    participant_id: UUID
    completed_at: datetime
    text: str | None = None


ParticipantCommand = (
    Admit
    | ChangeLevel
    | RecordSession
    | RecordScreening
    | Reassess
    | Discharge
    | CorrectEntry
    | Prescribe
    | EndPrescription
    | RecordRecertification
    | RecordDischargeSummary
)
"""A command on one participant's stream: the ones If-Match and Idempotency-Key apply to."""


# ---- consents and program policy ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GrantConsent:
    """The participant's consent to disclose events of `scope` to one recipient."""

    participant_id: UUID
    recipient_id: str
    scope: Sequence[str]
    expires_at: datetime
    signed_at: datetime | None = None  # None: signed when recorded
    consent_id: UUID | None = None  # chosen by the caller to retry safely; None: a new id


@dataclass(frozen=True, kw_only=True)
class RevokeConsent:
    """End a consent from now on."""

    participant_id: UUID
    consent_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class ChangePolicy:
    """A program's complete compliance policy, in force from when it is recorded."""

    program_id: str
    policy: Mapping[str, Any]


# ---- receipts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """The receipt of a participant command: the event it appended and the log position."""

    participant_id: UUID
    event_id: UUID
    version: int
    position: int | None

    def to_json(self) -> str:
        return json.dumps(
            {k: str(v) if isinstance(v, UUID) else v for k, v in asdict(self).items()}
        )

    @classmethod
    def from_json(cls, text: str) -> Recorded:
        data = json.loads(text)
        return cls(
            participant_id=UUID(data["participant_id"]),
            event_id=UUID(data["event_id"]),
            version=data["version"],
            position=data["position"],
        )


@dataclass(frozen=True)
class PolicyRecorded:
    """The receipt of a policy change."""

    program_id: str
    version: int
    position: int
