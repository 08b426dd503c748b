"""The Participant aggregate: one append-only stream per person, spanning every episode of care.

Each event is a past-tense fact with `occurred_at` (clinical time) and `recorded_by`; the
library's `timestamp` is when it was recorded, handed in by the caller as `now`.
Event fields hold plain values (codes, numbers, text) so stored events stay readable by any
later version of the code; value objects are rebuilt from them on the way in and out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from hashlib import sha1
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.chain import CHAIN_FIELDS
from domain.chained import ChainedAggregate
from domain.errors import (
    AfterDischarge,
    AlreadyActive,
    AlreadyCorrected,
    AlreadyDischarged,
    BeforeAdmission,
    InTheFuture,
    InvalidValue,
    NotAdmitted,
    NotCorrectable,
    OutOfOrder,
    SameLevel,
    UnknownEvent,
)
from domain.levels import CriteriaEdition, LevelOfCare
from domain.values import (
    AgeGroup,
    DimensionRatings,
    DischargeReason,
    Modality,
    Pathway,
    ScreeningResult,
    ServiceType,
    check_duration_minutes,
    parse_choice,
)

EVENT_ID_NAMESPACE = UUID("6f1d3c1e-0b7a-4c52-9a49-3c7f3e0f6a10")

# Clocks drift between a ward tablet and the server; a little slack avoids refusing honest entries.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)
MAX_TEXT = 2000


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


def event_id_for(participant_id: UUID, version: int) -> UUID:
    """The stable public id of the event at `version` in a participant's stream."""
    return uuid5(EVENT_ID_NAMESPACE, f"{participant_id}/{version}")


_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def event_id_text(participant_id: UUID | str, version: int) -> str:
    """`str(event_id_for(participant_id, version))`, spelled from the SHA-1 digest directly
    (the participant id as a UUID, or as its canonical text when the caller has that already).

    Every event applied (on replay too) files its id as text; building a UUID object only to
    print it was a measurable share of replays and rebuilds.
    """
    digest = bytearray(sha1(_NAMESPACE_BYTES + f"{participant_id}/{version}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def check_aware(value: object, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidValue(field, "must be a date-time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(field, "must carry a UTC offset, e.g. 2026-02-02T09:00:00Z")
    return value


def check_text(value: object, field: str, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidValue(field, "must be text")
    if required and not value.strip():
        raise InvalidValue(field, "must not be empty")
    if len(value) > MAX_TEXT:
        raise InvalidValue(field, f"must be at most {MAX_TEXT} characters")
    return value


class Participant(ChainedAggregate):
    """A participant's journey through levels of care, across one or more episodes.

    Every event is hash-chained (`domain.chained`); the TOPICs name the kind of event and stay
    fixed, the events' `class_version` (2 since the chain) names their shape.
    """

    TOPIC = "continuum.Participant"

    class Event(ChainedAggregate.Event):
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
            if isinstance(mutated, Participant):
                _remember_entry(mutated, self)
            return mutated

    class Registered(Aggregate.Created, Event):
        """The stream was opened for a person in a program; the first Admitted follows at once."""

        TOPIC = "continuum.Participant.Registered.v1"
        program_id: str

    # Naming our creation event as the library's `Created` stops it defining one of its own.
    Created = Registered

    class Admitted(Event):
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

    class LevelChanged(Event):
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

    class SessionAttended(Event):
        TOPIC = "continuum.Participant.SessionAttended.v1"
        service: str
        duration_minutes: int
        modality: str | None
        track: str | None

    class SessionMissed(Event):
        TOPIC = "continuum.Participant.SessionMissed.v1"
        service: str
        duration_minutes: int
        modality: str | None
        track: str | None

    class ScreeningResultRecorded(Event):
        TOPIC = "continuum.Participant.ScreeningResultRecorded.v1"
        specimen: str
        status: str
        results: dict[str, str]
        prescribed: list[str]

        @property
        def screening(self) -> ScreeningResult:
            return ScreeningResult.parse(self.specimen, self.status, self.results, self.prescribed)

    class Reassessed(Event):
        TOPIC = "continuum.Participant.Reassessed.v1"
        dimensions: dict[str, int]
        recommended_level: str
        decided_level: str
        criteria_edition: str
        rationale: str

    class Discharged(Event):
        TOPIC = "continuum.Participant.Discharged.v1"
        reason: str
        to_level: str | None

        def apply(self, participant: Participant) -> None:
            participant.status = "discharged"
            participant.discharged_at = self.occurred_at

    class EntryCorrected(Event):
        """An earlier entry was entered in error; both stay in the history."""

        TOPIC = "continuum.Participant.EntryCorrected.v1"
        corrected_event_id: UUID
        reason: str

        def apply(self, participant: Participant) -> None:
            participant.corrected[str(self.corrected_event_id)] = str(self.event_id)

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

    # ---- commands -------------------------------------------------------------------------

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
        check_text(program_id, "program_id")
        check_aware(occurred_at, "admitted_at")
        participant = cls._create(
            cls.Registered,
            id=participant_id,
            program_id=program_id,
            occurred_at=occurred_at,
            recorded_by=recorded_by,
            timestamp=now,
        )
        return participant

    def admit(
        self,
        *,
        program_id: str,
        age_group: str,
        level: str,
        criteria_edition: str,
        pathway: str,
        referred_from_level: str | None,
        occurred_at: datetime,
        recorded_by: str,
        now: datetime,
    ) -> None:
        check_text(program_id, "program_id")
        parsed_level = LevelOfCare.parse(level, criteria_edition, field="level")
        parsed_pathway = parse_choice(Pathway, pathway, "pathway")
        referred = None
        if referred_from_level is not None:
            referred = LevelOfCare.parse(
                referred_from_level, criteria_edition, field="referred_from_level"
            )
            if parsed_pathway is Pathway.STEP_DOWN and not referred > parsed_level:
                raise InvalidValue(
                    "referred_from_level", "a step-down admission comes from a higher level"
                )
            if parsed_pathway is Pathway.STEP_UP and not referred < parsed_level:
                raise InvalidValue(
                    "referred_from_level", "a step-up admission comes from a lower level"
                )
        self._check_time(occurred_at, "admitted_at", now)
        if self.status == "active":
            raise AlreadyActive(f"participant is already in episode {self.episode}")
        if self.discharged_at is not None and occurred_at < self.discharged_at:
            raise BeforeAdmission("a readmission cannot precede the previous discharge")
        self._trigger(
            self.Admitted,
            now,
            program_id=program_id,
            age_group=parse_choice(AgeGroup, age_group, "age_group").value,
            level=parsed_level.code,
            criteria_edition=parsed_level.edition.value,
            pathway=parsed_pathway.value,
            referred_from_level=referred.code if referred else None,
            episode=self.episode + 1,
            occurred_at=occurred_at,
            recorded_by=recorded_by,
        )

    def change_level(
        self,
        *,
        to_level: str,
        criteria_edition: str | None,
        reason: str,
        occurred_at: datetime,
        recorded_by: str,
        now: datetime,
    ) -> None:
        current = self._check_active(occurred_at, "effective_at", now)
        edition = criteria_edition or current.edition.value
        target = LevelOfCare.parse(to_level, edition, field="to_level")
        check_text(reason, "reason")
        if target.same_intensity(current):
            raise SameLevel(f"participant is already at level {current.code}")
        if self.level_since is not None and occurred_at < self.level_since:
            raise OutOfOrder(
                f"effective_at is before the current level's start ({self.level_since.isoformat()})"
            )
        event_class = self.SteppedDown if target < current else self.SteppedUp
        self._trigger(
            event_class,
            now,
            from_level=current.code,
            to_level=target.code,
            criteria_edition=target.edition.value,
            reason=reason,
            occurred_at=occurred_at,
            recorded_by=recorded_by,
        )

    def record_session(
        self,
        *,
        attended: bool,
        service: str,
        duration_minutes: int,
        modality: str | None,
        track: str | None,
        occurred_at: datetime,
        recorded_by: str,
        now: datetime,
    ) -> None:
        parsed_service = parse_choice(ServiceType, service, "service")
        check_duration_minutes(duration_minutes)
        parsed_modality = None if modality is None else parse_choice(Modality, modality, "modality")
        if track is not None:
            check_text(track, "track")
        self._check_active(occurred_at, "started_at", now)
        self._trigger(
            self.SessionAttended if attended else self.SessionMissed,
            now,
            service=parsed_service.value,
            duration_minutes=duration_minutes,
            modality=parsed_modality.value if parsed_modality else None,
            track=track,
            occurred_at=occurred_at,
            recorded_by=recorded_by,
        )

    def record_screening(
        self,
        *,
        specimen: str,
        status: str,
        results: Mapping[str, str],
        prescribed: Sequence[str],
        occurred_at: datetime,
        recorded_by: str,
        now: datetime,
    ) -> None:
        screening = ScreeningResult.parse(specimen, status, results, prescribed)
        self._check_active(occurred_at, "collected_at", now)
        self._trigger(
            self.ScreeningResultRecorded,
            now,
            specimen=screening.specimen.value,
            status=screening.status.value,
            results={name: result.value for name, result in sorted(screening.results.items())},
            prescribed=sorted(screening.prescribed),
            occurred_at=occurred_at,
            recorded_by=recorded_by,
        )

    def reassess(
        self,
        *,
        dimensions: Mapping[str, object],
        recommended_level: str,
        decided_level: str,
        criteria_edition: str | None,
        rationale: str,
        occurred_at: datetime,
        recorded_by: str,
        now: datetime,
    ) -> None:
        ratings = DimensionRatings.parse(dimensions)
        current = self._check_active(occurred_at, "assessed_at", now)
        edition = criteria_edition or current.edition.value
        recommended = LevelOfCare.parse(recommended_level, edition, field="recommended_level")
        decided = LevelOfCare.parse(decided_level, edition, field="decided_level")
        check_text(rationale, "rationale", required=False)
        self._trigger(
            self.Reassessed,
            now,
            dimensions=ratings.as_dict(),
            recommended_level=recommended.code,
            decided_level=decided.code,
            criteria_edition=decided.edition.value,
            rationale=rationale,
            occurred_at=occurred_at,
            recorded_by=recorded_by,
        )

    def discharge(
        self,
        *,
        reason: str,
        to_level: str | None,
        occurred_at: datetime,
        recorded_by: str,
        now: datetime,
    ) -> None:
        parsed_reason = parse_choice(DischargeReason, reason, "reason")
        if self.status == "discharged":
            raise AlreadyDischarged(f"episode {self.episode} is already discharged")
        current = self._check_active(occurred_at, "discharged_at", now)
        if self.latest_occurred_at is not None and occurred_at < self.latest_occurred_at:
            raise OutOfOrder(
                "discharged_at is before entries already recorded in this episode "
                f"(latest {self.latest_occurred_at.isoformat()})"
            )
        referred = (
            None
            if to_level is None
            else LevelOfCare.parse(to_level, current.edition.value, field="to_level")
        )
        self._trigger(
            self.Discharged,
            now,
            reason=parsed_reason.value,
            to_level=referred.code if referred else None,
            occurred_at=occurred_at,
            recorded_by=recorded_by,
        )

    def correct_entry(
        self, *, event_id: UUID, reason: str, recorded_by: str, now: datetime
    ) -> None:
        check_text(reason, "reason")
        entry_type = self.entries.get(str(event_id))
        if entry_type is None:
            raise UnknownEvent(f"event {event_id} is not in this participant's stream")
        if entry_type not in CORRECTABLE_ENTRIES:
            raise NotCorrectable(
                f"a {entry_type} entry cannot be marked entered-in-error; "
                "record the right level change, discharge or readmission instead"
            )
        if str(event_id) in self.corrected:
            raise AlreadyCorrected(f"event {event_id} is already marked entered-in-error")
        self._trigger(
            self.EntryCorrected,
            now,
            corrected_event_id=event_id,
            reason=reason,
            occurred_at=now,
            recorded_by=recorded_by,
        )

    # ---- queries --------------------------------------------------------------------------

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

    def _check_time(self, occurred_at: datetime, field: str, now: datetime) -> None:
        check_aware(occurred_at, field)
        if occurred_at > now + CLOCK_SKEW_ALLOWANCE:
            raise InTheFuture(f"{field} {occurred_at.isoformat()} is later than now")

    def _check_active(self, occurred_at: datetime, field: str, now: datetime) -> LevelOfCare:
        self._check_time(occurred_at, field, now)
        if self.status == "discharged":
            raise AfterDischarge(f"episode {self.episode} was discharged; readmit first")
        if self.status != "active" or self.level is None or self.admitted_at is None:
            raise NotAdmitted("participant has no open episode")
        if occurred_at < self.admitted_at:
            raise BeforeAdmission(f"{field} is before the admission of episode {self.episode}")
        return self.level

    def _trigger(self, event_class: type[Event], now: datetime, **fields: Any) -> None:
        self.trigger_event(event_class, timestamp=now, **fields)


# Entries whose retraction leaves the journey's shape (episode, level, status) unchanged.
# Admissions, level changes and discharges shape everything after them, so a mistake there
# is put right by a later fact (another level change, a readmission), not retracted.
CORRECTABLE_ENTRIES = frozenset(
    {"SessionAttended", "SessionMissed", "ScreeningResultRecorded", "Reassessed"}
)


def _remember_entry(participant: Participant, event: Participant.Event) -> None:
    participant.entries[event_id_text(event.originator_id, event.originator_version)] = type(
        event
    ).__name__
    if isinstance(event, Participant.Admitted):
        participant.latest_occurred_at = event.occurred_at
    elif not isinstance(event, Participant.EntryCorrected | Participant.Registered):
        latest = participant.latest_occurred_at
        if latest is None or event.occurred_at > latest:
            participant.latest_occurred_at = event.occurred_at
