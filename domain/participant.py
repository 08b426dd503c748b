"""The Participant aggregate: one append-only stream per person, spanning every episode of care.

Each event is a past-tense fact with `occurred_at` (clinical time) and `recorded_by`; the
library's `timestamp` is when it was recorded, handed in by the caller as `now`.
Event fields hold plain values (codes, numbers, text) so stored events stay readable by any
later version of the code; value objects are rebuilt from them on the way in and out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias
from uuid import UUID

from domain import participant_entries as entries
from domain import participant_events as ev
from domain import participant_records as records
from domain.chained import ChainedAggregate
from domain.checks import MAX_TEXT, check_aware, check_text
from domain.commands import (
    Admit,
    ChangeLevel,
    CorrectEntry,
    Discharge,
    EndPrescription,
    ParticipantCommand,
    Prescribe,
    Reassess,
    RecordDischargeSummary,
    RecordRecertification,
    RecordScreening,
    RecordSession,
)
from domain.errors import (
    AfterDischarge,
    AlreadyActive,
    AlreadyDischarged,
    BeforeAdmission,
    InTheFuture,
    InvalidValue,
    NotAdmitted,
    OutOfOrder,
    SameLevel,
)
from domain.event_ids import EVENT_ID_NAMESPACE, event_id_for, event_id_text
from domain.levels import CriteriaEdition, LevelOfCare
from domain.participant_events import CORRECTABLE_ENTRIES, ENVELOPE_FIELDS
from domain.values import (
    AgeGroup,
    DischargeReason,
    Pathway,
    parse_choice,
)

# Clocks drift between a ward tablet and the server; a little slack avoids refusing honest entries.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)


class Participant(ChainedAggregate):
    """A participant's journey through levels of care, across one or more episodes.

    Every event is hash-chained (`domain.chained`); the TOPICs name the kind of event and stay
    fixed, the events' `class_version` (2 since the chain) names their shape.
    """

    TOPIC = "continuum.Participant"

    # The event classes (domain.participant_events), bound here so the library registers
    # their topics with this aggregate and applies them to it. `Created` names the creation
    # event as the library's own, which stops it defining one. Aliases for mypy; at run time
    # plain attributes, since the library reads class annotations as dataclass fields.
    if TYPE_CHECKING:
        Event: TypeAlias = ev.ParticipantEvent
        Registered: TypeAlias = ev.Registered
        Created: TypeAlias = ev.Registered
        Admitted: TypeAlias = ev.Admitted
        LevelChanged: TypeAlias = ev.LevelChanged
        SteppedDown: TypeAlias = ev.SteppedDown
        SteppedUp: TypeAlias = ev.SteppedUp
        SessionAttended: TypeAlias = ev.SessionAttended
        SessionMissed: TypeAlias = ev.SessionMissed
        ScreeningResultRecorded: TypeAlias = ev.ScreeningResultRecorded
        Reassessed: TypeAlias = ev.Reassessed
        Discharged: TypeAlias = ev.Discharged
        EntryCorrected: TypeAlias = ev.EntryCorrected
        LevelRecoded: TypeAlias = ev.LevelRecoded
        MedicationPrescribed: TypeAlias = ev.MedicationPrescribed
        MedicationEnded: TypeAlias = ev.MedicationEnded
        RecertificationRecorded: TypeAlias = ev.RecertificationRecorded
        DischargeSummaryRecorded: TypeAlias = ev.DischargeSummaryRecorded
    else:
        Event = ev.ParticipantEvent
        Registered = ev.Registered
        Created = ev.Registered
        Admitted = ev.Admitted
        LevelChanged = ev.LevelChanged
        SteppedDown = ev.SteppedDown
        SteppedUp = ev.SteppedUp
        SessionAttended = ev.SessionAttended
        SessionMissed = ev.SessionMissed
        ScreeningResultRecorded = ev.ScreeningResultRecorded
        Reassessed = ev.Reassessed
        Discharged = ev.Discharged
        EntryCorrected = ev.EntryCorrected
        LevelRecoded = ev.LevelRecoded
        MedicationPrescribed = ev.MedicationPrescribed
        MedicationEnded = ev.MedicationEnded
        RecertificationRecorded = ev.RecertificationRecorded
        DischargeSummaryRecorded = ev.DischargeSummaryRecorded

    # State stays in plain JSON-friendly values so snapshots need no extra transcodings.
    def __init__(self, program_id: str, occurred_at: datetime, recorded_by: str) -> None:
        self.program_id = program_id
        self.registered_at = occurred_at
        self.age_group: str | None = None
        self.level_code: str | None = None
        self.level_edition: str | None = None
        self.level_since: datetime | None = None
        self.episode = 0
        self.admitted_at: datetime | None = None
        self.discharged_at: datetime | None = None
        # The latest clinical time recorded in the current episode: a discharge cannot
        # precede what was already recorded as happening before it.
        self.latest_occurred_at: datetime | None = None
        self.status = "registered"
        # event id -> event type name, for corrections and event-id lookup
        self.entries: dict[str, str] = {}
        # corrected event id -> the correcting event's id
        self.corrected: dict[str, str] = {}

    # ---- commands ---------------------------------------------------------------------------
    # Each takes the command as the request named it; the event's `occurred_at` is the command's
    # own time field (`admitted_at`, `started_at`, ...), which is also the field refusals name.

    @classmethod
    def register(
        cls,
        participant_id: UUID,
        program_id: str,
        *,
        occurred_at: datetime,
        recorded_by: str,
        now: datetime,
    ) -> Participant:
        """Open the stream (`Registered`); the first admission follows at once (`open`)."""
        check_text(program_id, "program_id")
        check_aware(occurred_at, "admitted_at")
        return cls._create(
            cls.Registered,
            id=participant_id,
            program_id=program_id,
            occurred_at=occurred_at,
            recorded_by=recorded_by,
            timestamp=now,
        )

    @classmethod
    def open(
        cls, command: Admit, participant_id: UUID, *, recorded_by: str, now: datetime
    ) -> Participant:
        """A new participant's stream: registered and admitted, as of `admitted_at`."""
        participant = cls.register(
            participant_id,
            command.program_id,
            occurred_at=command.admitted_at,
            recorded_by=recorded_by,
            now=now,
        )
        participant.admit(command, recorded_by=recorded_by, now=now)
        return participant

    def execute(self, command: ParticipantCommand, *, recorded_by: str, now: datetime) -> None:
        """Apply any participant command to this stream (pending until saved)."""
        handler = COMMAND_HANDLERS.get(type(command))
        if handler is None:
            raise TypeError(f"not a participant command: {type(command).__name__}")
        handler(self, command, recorded_by=recorded_by, now=now)

    def admit(self, command: Admit, *, recorded_by: str, now: datetime) -> None:
        check_text(command.program_id, "program_id")
        edition = command.criteria_edition
        parsed_level = LevelOfCare.parse(command.level, edition, field="level")
        parsed_pathway = parse_choice(Pathway, command.pathway, "pathway")
        referred = None
        if command.referred_from_level is not None:
            referred = LevelOfCare.parse(
                command.referred_from_level, edition, field="referred_from_level"
            )
            if parsed_pathway is Pathway.STEP_DOWN and not referred > parsed_level:
                raise InvalidValue(
                    "referred_from_level", "a step-down admission comes from a higher level"
                )
            if parsed_pathway is Pathway.STEP_UP and not referred < parsed_level:
                raise InvalidValue(
                    "referred_from_level", "a step-up admission comes from a lower level"
                )
        admitted_at = command.admitted_at
        self.check_time(admitted_at, "admitted_at", now)
        if self.status == "active":
            raise AlreadyActive(f"participant is already in episode {self.episode}")
        if self.discharged_at is not None and admitted_at < self.discharged_at:
            raise BeforeAdmission("a readmission cannot precede the previous discharge")
        self.record(
            self.Admitted,
            admitted_at,
            recorded_by,
            now,
            program_id=command.program_id,
            age_group=parse_choice(AgeGroup, command.age_group, "age_group").value,
            level=parsed_level.code,
            criteria_edition=parsed_level.edition.value,
            pathway=parsed_pathway.value,
            referred_from_level=referred.code if referred else None,
            episode=self.episode + 1,
        )

    def change_level(self, command: ChangeLevel, *, recorded_by: str, now: datetime) -> None:
        effective_at = command.effective_at
        current = self.check_active_at(effective_at, "effective_at", now)
        edition = command.criteria_edition or current.edition.value
        target = LevelOfCare.parse(command.to_level, edition, field="to_level")
        check_text(command.reason, "reason")
        # An equivalent level in the other edition (3rd `1` -> 4th `1.5`) is a re-code.
        reference = current.in_edition(target.edition)
        if not target.is_recode_of(current) and target.same_intensity(reference):
            raise SameLevel(f"participant is already at level {current.code}")
        if self.level_since is not None and effective_at < self.level_since:
            raise OutOfOrder(
                f"effective_at is before the current level's start ({self.level_since.isoformat()})"
            )
        event_class: type[ev.LevelChanged]
        if target.is_recode_of(current):
            event_class = self.LevelRecoded
        else:
            event_class = self.SteppedDown if target < reference else self.SteppedUp
        self.record(
            event_class,
            effective_at,
            recorded_by,
            now,
            from_level=current.code,
            to_level=target.code,
            criteria_edition=target.edition.value,
            reason=command.reason,
        )

    def record_session(self, command: RecordSession, *, recorded_by: str, now: datetime) -> None:
        entries.record_session(self, command, recorded_by=recorded_by, now=now)

    def record_screening(
        self, command: RecordScreening, *, recorded_by: str, now: datetime
    ) -> None:
        entries.record_screening(self, command, recorded_by=recorded_by, now=now)

    def reassess(self, command: Reassess, *, recorded_by: str, now: datetime) -> None:
        entries.reassess(self, command, recorded_by=recorded_by, now=now)

    def discharge(self, command: Discharge, *, recorded_by: str, now: datetime) -> None:
        parsed_reason = parse_choice(DischargeReason, command.reason, "reason")
        if self.status == "discharged":
            raise AlreadyDischarged(f"episode {self.episode} is already discharged")
        discharged_at = command.discharged_at
        current = self.check_active_at(discharged_at, "discharged_at", now)
        if self.latest_occurred_at is not None and discharged_at < self.latest_occurred_at:
            raise OutOfOrder(
                "discharged_at is before entries already recorded in this episode "
                f"(latest {self.latest_occurred_at.isoformat()})"
            )
        referred = (
            None
            if command.to_level is None
            else LevelOfCare.parse(command.to_level, current.edition.value, field="to_level")
        )
        self.record(
            self.Discharged,
            discharged_at,
            recorded_by,
            now,
            reason=parsed_reason.value,
            to_level=referred.code if referred else None,
        )

    def correct_entry(self, command: CorrectEntry, *, recorded_by: str, now: datetime) -> None:
        records.correct_entry(self, command, recorded_by=recorded_by, now=now)

    # ---- queries --------------------------------------------------------------------------

    @property
    def prescriptions(self) -> dict[str, list[str | None]]:
        """Prescription id -> [started_on, ended_on]; created on first use, since snapshots
        taken before prescriptions were recorded do not carry it."""
        found: dict[str, list[str | None]] = self.__dict__.setdefault("prescriptions", {})
        return found

    @property
    def level(self) -> LevelOfCare | None:
        if self.level_code is None or self.level_edition is None:
            return None
        return LevelOfCare(self.level_code, CriteriaEdition(self.level_edition))

    def event_id_at(self, version: int) -> UUID:
        return event_id_for(self.id, version)

    @property
    def last_event_id(self) -> UUID:
        return self.event_id_at(self.version)

    # ---- guards ---------------------------------------------------------------------------

    def check_time(self, occurred_at: datetime, field: str, now: datetime) -> None:
        check_aware(occurred_at, field)
        if occurred_at > now + CLOCK_SKEW_ALLOWANCE:
            raise InTheFuture(f"{field} {occurred_at.isoformat()} is later than now")

    def check_active_at(self, occurred_at: datetime, field: str, now: datetime) -> LevelOfCare:
        self.check_time(occurred_at, field, now)
        if self.status == "discharged":
            raise AfterDischarge(f"episode {self.episode} was discharged; readmit first")
        if self.status != "active" or self.level is None or self.admitted_at is None:
            raise NotAdmitted("participant has no open episode")
        if occurred_at < self.admitted_at:
            raise BeforeAdmission(f"{field} is before the admission of episode {self.episode}")
        return self.level

    def record(
        self,
        event_class: type[Event],
        occurred_at: datetime,
        recorded_by: str,
        now: datetime,
        **fields: Any,
    ) -> None:
        """Trigger `event_class`: a fact of clinical time `occurred_at`, recorded at `now`."""
        self.trigger_event(
            event_class, timestamp=now, occurred_at=occurred_at, recorded_by=recorded_by, **fields
        )


# Each command type's handler: the aggregate's own methods and the functions of the sibling
# modules all take (participant, command, *, recorded_by, now).
COMMAND_HANDLERS: dict[type, Callable[..., None]] = {
    Admit: Participant.admit,
    ChangeLevel: Participant.change_level,
    RecordSession: entries.record_session,
    RecordScreening: entries.record_screening,
    Reassess: entries.reassess,
    Discharge: Participant.discharge,
    CorrectEntry: records.correct_entry,
    Prescribe: records.prescribe,
    EndPrescription: records.end_prescription,
    RecordRecertification: records.record_recertification,
    RecordDischargeSummary: records.record_discharge_summary,
}


__all__ = [
    "CLOCK_SKEW_ALLOWANCE",
    "CORRECTABLE_ENTRIES",
    "ENVELOPE_FIELDS",
    "EVENT_ID_NAMESPACE",
    "MAX_TEXT",
    "Participant",
    "check_aware",
    "check_text",
    "event_id_for",
    "event_id_text",
]
