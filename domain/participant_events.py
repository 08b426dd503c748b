"""The events of a participant's stream: past-tense facts, each with `occurred_at`.

Fields hold plain values (codes, numbers, text) so stored events stay readable by any later
version of the code. The TOPICs name the kind of event and never change; `Participant` (in
domain.participant) binds these classes as its own (`Participant.Admitted`, ...).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.chain import CHAIN_FIELDS
from domain.chained import ChainedAggregate
from domain.event_ids import event_id_for, event_id_text
from domain.values import ScreeningResult

if TYPE_CHECKING:
    from domain.participant import Participant

# Fields every participant event carries, apart from the chain's.
ENVELOPE_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "occurred_at",
        "recorded_by",
    }
)


class ParticipantEvent(ChainedAggregate.Event):
    """What every participant event carries: the clinical time and who recorded it."""

    occurred_at: datetime
    recorded_by: str

    def clinical_fields(self) -> dict[str, Any]:
        """What this kind of event says, without the fields every event carries
        (ids, version, times, recorded_by) or the chain's hashes."""
        return {
            name: value
            for name, value in vars(self).items()
            if name not in ENVELOPE_FIELDS and name not in CHAIN_FIELDS
        }

    @property
    def event_id(self) -> UUID:
        return event_id_for(self.originator_id, self.originator_version)

    @property
    def recorded_at(self) -> datetime:
        return self.timestamp

    # Remembering every entry here keeps that bookkeeping out of each event's apply(),
    # and it runs on replay as well as on trigger.
    def mutate(self, aggregate: Any) -> Any:
        mutated = super().mutate(aggregate)
        if mutated is not None:  # only a Participant applies these events
            _remember_entry(mutated, self)
        return mutated


class Registered(Aggregate.Created, ParticipantEvent):
    """The stream was opened for a person in a program; the first Admitted follows at once."""

    TOPIC = "continuum.Participant.Registered.v1"
    program_id: str


class Admitted(ParticipantEvent):
    TOPIC = "continuum.Participant.Admitted.v1"
    program_id: str
    age_group: str
    level: str
    criteria_edition: str
    pathway: str
    referred_from_level: str | None
    episode: int

    def apply(self, participant: Participant) -> None:
        participant.program_id = self.program_id
        participant.age_group = self.age_group
        participant.level_code = self.level
        participant.level_edition = self.criteria_edition
        participant.level_since = self.occurred_at
        participant.episode = self.episode
        participant.admitted_at = self.occurred_at
        participant.discharged_at = None
        participant.status = "active"


class LevelChanged(ParticipantEvent):
    """Shared shape of step-down and step-up; never stored under this topic."""

    TOPIC = "continuum.Participant.LevelChanged.abstract"
    from_level: str
    to_level: str
    criteria_edition: str
    reason: str

    def apply(self, participant: Participant) -> None:
        participant.level_code = self.to_level
        participant.level_edition = self.criteria_edition
        participant.level_since = self.occurred_at


class SteppedDown(LevelChanged):
    TOPIC = "continuum.Participant.SteppedDown.v1"


class SteppedUp(LevelChanged):
    TOPIC = "continuum.Participant.SteppedUp.v1"


class LevelRecoded(LevelChanged):
    """The same level re-coded into the other criteria edition (e.g. 3rd `1` as 4th `1.5`):
    neither a step-up nor a step-down."""

    TOPIC = "continuum.Participant.LevelRecoded.v1"


class SessionAttended(ParticipantEvent):
    TOPIC = "continuum.Participant.SessionAttended.v1"
    service: str
    duration_minutes: int
    modality: str | None
    track: str | None


class SessionMissed(ParticipantEvent):
    TOPIC = "continuum.Participant.SessionMissed.v1"
    service: str
    duration_minutes: int
    modality: str | None
    track: str | None


class ScreeningResultRecorded(ParticipantEvent):
    TOPIC = "continuum.Participant.ScreeningResultRecorded.v1"
    specimen: str
    status: str
    results: dict[str, str]
    prescribed: list[str]

    @property
    def screening(self) -> ScreeningResult:
        return ScreeningResult.parse(self.specimen, self.status, self.results, self.prescribed)


class Reassessed(ParticipantEvent):
    TOPIC = "continuum.Participant.Reassessed.v1"
    dimensions: dict[str, int]
    recommended_level: str
    decided_level: str
    criteria_edition: str
    rationale: str


class Discharged(ParticipantEvent):
    TOPIC = "continuum.Participant.Discharged.v1"
    reason: str
    to_level: str | None

    def apply(self, participant: Participant) -> None:
        participant.status = "discharged"
        participant.discharged_at = self.occurred_at


class MedicationPrescribed(ParticipantEvent):
    """A prescription on the record (dates as ISO text); its id is this event's id.
    `occurred_at` is the start of `started_on` in UTC."""

    TOPIC = "continuum.Participant.MedicationPrescribed.v1"
    medication: str
    started_on: str
    ended_on: str | None

    def apply(self, participant: Participant) -> None:
        participant.prescriptions[str(self.event_id)] = [self.started_on, self.ended_on]


class MedicationEnded(ParticipantEvent):
    TOPIC = "continuum.Participant.MedicationEnded.v1"
    prescription_id: str
    ended_on: str

    def apply(self, participant: Participant) -> None:
        participant.prescriptions[self.prescription_id][1] = self.ended_on


class RecertificationRecorded(ParticipantEvent):
    """A physician's recertification of the need for the program (Medicare IOP)."""

    TOPIC = "continuum.Participant.RecertificationRecorded.v1"
    note: str | None


class DischargeSummaryRecorded(ParticipantEvent):
    """The episode's discharge summary was completed (`occurred_at` = completed_at)."""

    TOPIC = "continuum.Participant.DischargeSummaryRecorded.v1"
    text: str | None


class EntryCorrected(ParticipantEvent):
    """An earlier entry was entered in error; both stay in the history."""

    TOPIC = "continuum.Participant.EntryCorrected.v1"
    corrected_event_id: UUID
    reason: str

    def apply(self, participant: Participant) -> None:
        participant.corrected[str(self.corrected_event_id)] = str(self.event_id)


# Entries whose retraction leaves the journey's shape (episode, level, status) unchanged.
# Admissions, level changes and discharges shape everything after them, so a mistake there
# is put right by a later fact (another level change, a readmission), not retracted.
CORRECTABLE_ENTRIES = frozenset(
    {
        "SessionAttended",
        "SessionMissed",
        "ScreeningResultRecorded",
        "Reassessed",
        "RecertificationRecorded",
        "DischargeSummaryRecorded",
    }
)


def _remember_entry(participant: Participant, event: ParticipantEvent) -> None:
    """File the event's id and type; track the episode's latest clinical time (prescriptions
    and discharge summaries are dated apart from the episode's sequence: a prescription may
    start before the admission, a summary is written after the discharge)."""
    participant.entries[event_id_text(event.originator_id, event.originator_version)] = type(
        event
    ).__name__
    if isinstance(event, Admitted):
        participant.latest_occurred_at = event.occurred_at
    elif not isinstance(
        event,
        EntryCorrected
        | Registered
        | MedicationPrescribed
        | MedicationEnded
        | DischargeSummaryRecorded,
    ):
        latest = participant.latest_occurred_at
        if latest is None or event.occurred_at > latest:
            participant.latest_occurred_at = event.occurred_at
