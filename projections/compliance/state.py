"""The facts one participant's compliance depends on, folded from their stream.

The fold only collects facts (episodes, stays at a level, sessions, screens, reassessments,
corrections) in stream order; every rule is judged later, in clinical time, by `evaluate`
in projections/compliance/report.py. So an entry recorded late, or a correction recorded after its
entry, changes the report exactly as if it had been known from the start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from domain.levels import is_recode
from domain.participant import Participant
from domain.values import ScreeningOutcome
from projections.dispatch import FirstMatch
from projections.folding import fold_log, fold_stream
from projections.view_json import compact_json


@dataclass
class Episode:
    number: int
    age_group: str
    admitted_at: datetime
    event_id: str
    discharged_at: datetime | None = None
    discharge_event_id: str | None = None
    discharge_reason: str | None = None
    discharge_to_level: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "age_group": self.age_group,
            "admitted_at": self.admitted_at.isoformat(),
            "event_id": self.event_id,
            "discharged_at": _iso(self.discharged_at),
            "discharge_event_id": self.discharge_event_id,
            "discharge_reason": self.discharge_reason,
            "discharge_to_level": self.discharge_to_level,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        return cls(
            data["number"],
            data["age_group"],
            datetime.fromisoformat(data["admitted_at"]),
            data["event_id"],
            _parse(data["discharged_at"]),
            data["discharge_event_id"],
            data.get("discharge_reason"),
            data.get("discharge_to_level"),
        )


@dataclass
class Stay:
    """Time at one level, opened by an admission or a level change."""

    level: str
    criteria_edition: str
    episode: int
    started_at: datetime
    event_id: str
    entered_by: str  # admitted | stepped_down | stepped_up
    pathway: str | None = None  # the admission's pathway
    ended_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "criteria_edition": self.criteria_edition,
            "episode": self.episode,
            "started_at": self.started_at.isoformat(),
            "event_id": self.event_id,
            "entered_by": self.entered_by,
            "pathway": self.pathway,
            "ended_at": _iso(self.ended_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stay:
        return cls(
            data["level"],
            data["criteria_edition"],
            data["episode"],
            datetime.fromisoformat(data["started_at"]),
            data["event_id"],
            data["entered_by"],
            data["pathway"],
            _parse(data["ended_at"]),
        )


@dataclass
class Prescription:
    """A medication on the record, active from `started_on` through `ended_on` (if any)."""

    prescription_id: str  # the MedicationPrescribed event's id
    medication: str
    started_on: date
    ended_on: date | None = None

    def active_on(self, day: date) -> bool:
        return self.started_on <= day and (self.ended_on is None or day <= self.ended_on)

    def to_list(self) -> list[Any]:
        ended = None if self.ended_on is None else self.ended_on.isoformat()
        return [self.prescription_id, self.medication, self.started_on.isoformat(), ended]

    @classmethod
    def from_list(cls, data: list[Any]) -> Prescription:
        prescription_id, medication, started, ended = data
        ended_on = None if ended is None else date.fromisoformat(ended)
        return cls(prescription_id, medication, date.fromisoformat(started), ended_on)


@dataclass
class Entry:
    """A correctable entry: a session, a screen, a reassessment, a recertification or a
    discharge summary. Never changed once recorded (a correction is kept apart), so its
    stored form is computed once."""

    kind: str  # session | screening | reassessment | recertification | discharge_summary
    event_id: str
    version: int
    occurred_at: datetime
    service: str | None = None
    minutes: int = 0
    attended: bool = False
    outcome: str | None = None  # a screen's ScreeningOutcome value
    level: str | None = None  # a reassessment's decided level
    # A screen's positive analytes that its own `prescribed` list does not explain.
    substances: tuple[str, ...] = ()
    _stored: list[Any] | None = field(default=None, compare=False, repr=False)

    def to_list(self) -> list[Any]:
        """A compact positional form: entries are most of a view's size."""
        if self._stored is None:
            self._stored = [
                self.kind,
                self.event_id,
                self.version,
                self.occurred_at.isoformat(),
                self.service,
                self.minutes,
                self.attended,
                self.outcome,
                self.level,
                list(self.substances),
            ]
        return self._stored

    @classmethod
    def from_list(cls, data: list[Any]) -> Entry:
        kind, event_id, version, at, service, minutes, attended, outcome, level, found = data
        return cls(
            kind,
            event_id,
            version,
            datetime.fromisoformat(at),
            service,
            minutes,
            attended,
            outcome,
            level,
            tuple(found),
            _stored=data,
        )


@dataclass
class ComplianceState:
    participant_id: str
    program_id: str
    episodes: list[Episode] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    # corrected event id -> the EntryCorrected event's id
    corrections: dict[str, str] = field(default_factory=dict)
    prescriptions: list[Prescription] = field(default_factory=list)
    version: int = 0
    # The JSON of entries[:_entries_encoded] (entries are only ever appended): a view row is
    # rewritten after every batch, and re-encoding every entry each time dominated rebuilds.
    _entries_text: str = field(default="", compare=False, repr=False)
    _entries_encoded: int = field(default=0, compare=False, repr=False)

    def live_entries(self, kind: str) -> list[Entry]:
        """Entries of `kind` not marked entered-in-error, in clinical then stream order."""
        live = [e for e in self.entries if e.kind == kind and e.event_id not in self.corrections]
        return sorted(live, key=lambda e: (e.occurred_at, e.version))

    def outcome_of(
        self, screen: Entry, analytes_of: Callable[[str], frozenset[str]], day: date
    ) -> str:
        """The screen's outcome, with a positive that only prescriptions active on `day`
        explain read as expected (`analytes_of` maps a medication to what a lab reports)."""
        if screen.outcome != ScreeningOutcome.UNEXPECTED_POSITIVE.value or not screen.substances:
            return screen.outcome or ""
        explained: set[str] = set()
        for prescription in self.prescriptions:
            if prescription.active_on(day):
                explained |= analytes_of(prescription.medication)
        if set(screen.substances) <= explained:
            return ScreeningOutcome.EXPECTED_POSITIVE.value
        return screen.outcome

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_dict_without_entries(), "entries": [e.to_list() for e in self.entries]}

    def to_dict_without_entries(self) -> dict[str, Any]:
        return {
            "participant_id": self.participant_id,
            "program_id": self.program_id,
            "episodes": [e.to_dict() for e in self.episodes],
            "stays": [s.to_dict() for s in self.stays],
            "corrections": self.corrections,
            "prescriptions": [p.to_list() for p in self.prescriptions],
            "version": self.version,
        }

    def to_json(self) -> str:
        """`to_dict()` as compact JSON, re-encoding only the entries added since last time."""
        if self._entries_encoded < len(self.entries):
            new = self.entries[self._entries_encoded :]
            chunk = compact_json([e.to_list() for e in new])[1:-1]
            self._entries_text = f"{self._entries_text},{chunk}" if self._entries_text else chunk
            self._entries_encoded = len(self.entries)
        head = compact_json(self.to_dict_without_entries())
        return f'{head[:-1]},"entries":[{self._entries_text}]}}'

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComplianceState:
        return cls(
            participant_id=data["participant_id"],
            program_id=data["program_id"],
            episodes=[Episode.from_dict(e) for e in data["episodes"]],
            stays=[Stay.from_dict(s) for s in data["stays"]],
            entries=[Entry.from_list(e) for e in data["entries"]],
            corrections=dict(data["corrections"]),
            prescriptions=[Prescription.from_list(p) for p in data["prescriptions"]],
            version=data["version"],
        )


def apply(
    state: ComplianceState | None, event: object, event_id: str | None = None
) -> ComplianceState | None:
    """`state` advanced by `event` (in place when given; a Registered event starts one).

    Events at or below the state's version were applied already and are skipped. `event_id`,
    when the caller has it already, is the event's id as text."""
    record = _RECORDERS(type(event))
    if record is None:  # not a participant's event
        return state
    event = cast(Participant.Event, event)
    if state is None:
        if not _starts_stream(record):
            return None
        state = ComplianceState(participant_id=str(event.originator_id), program_id="")
    if event.originator_version <= state.version:
        return state
    state.version = event.originator_version
    record(state, event, str(event.event_id) if event_id is None else event_id)
    return state


def fold(events: Iterable[object]) -> ComplianceState | None:
    """One participant's compliance facts from their stream (None before Registered)."""
    return fold_stream(apply, events)


def fold_all(events: Iterable[object]) -> dict[str, ComplianceState]:
    """Every participant's compliance facts from an interleaved log, by participant id."""
    return fold_log(apply, events)


# What each event records; the same `(state, event, event_id)` for every kind.
Recorder = Callable[[ComplianceState, Any, str], None]


def _registered(state: ComplianceState, event: Participant.Registered, event_id: str) -> None:
    state.program_id = event.program_id


def _admitted(state: ComplianceState, event: Participant.Admitted, event_id: str) -> None:
    at = event.occurred_at
    state.program_id = event.program_id
    state.episodes.append(Episode(event.episode, event.age_group, at, event_id))
    state.stays.append(
        Stay(
            event.level,
            event.criteria_edition,
            event.episode,
            at,
            event_id,
            "admitted",
            pathway=event.pathway,
        )
    )


def _level_changed(state: ComplianceState, event: Participant.LevelChanged, event_id: str) -> None:
    if _is_recode(state, event):
        # The same level in the other edition: the stay goes on under its new code.
        state.stays[-1].level = event.to_level
        state.stays[-1].criteria_edition = event.criteria_edition
        return
    at = _end_stay(state, event.occurred_at)
    entered_by = "stepped_down" if isinstance(event, Participant.SteppedDown) else "stepped_up"
    episode = state.episodes[-1].number if state.episodes else 0
    state.stays.append(
        Stay(event.to_level, event.criteria_edition, episode, at, event_id, entered_by)
    )


def _discharged(state: ComplianceState, event: Participant.Discharged, event_id: str) -> None:
    at = _end_stay(state, event.occurred_at)
    if state.episodes:
        state.episodes[-1].discharged_at = at
        state.episodes[-1].discharge_event_id = event_id
        state.episodes[-1].discharge_reason = event.reason
        state.episodes[-1].discharge_to_level = event.to_level


def _session(attended: bool) -> Recorder:
    def record(
        state: ComplianceState,
        event: Participant.SessionAttended | Participant.SessionMissed,
        event_id: str,
    ) -> None:
        state.entries.append(
            Entry(
                "session",
                event_id,
                event.originator_version,
                event.occurred_at,
                service=event.service,
                minutes=event.duration_minutes,
                attended=attended,
            )
        )

    return record


def _screening(
    state: ComplianceState, event: Participant.ScreeningResultRecorded, event_id: str
) -> None:
    screening = event.screening
    state.entries.append(
        Entry(
            "screening",
            event_id,
            event.originator_version,
            event.occurred_at,
            outcome=screening.outcome.value,
            substances=tuple(sorted(screening.unexpected_positives)),
        )
    )


def _reassessed(state: ComplianceState, event: Participant.Reassessed, event_id: str) -> None:
    state.entries.append(
        Entry(
            "reassessment",
            event_id,
            event.originator_version,
            event.occurred_at,
            level=event.decided_level,
        )
    )


def _entry(kind: str) -> Recorder:
    """An entry with nothing but its kind and time (a recertification, a discharge summary)."""

    def record(state: ComplianceState, event: Participant.Event, event_id: str) -> None:
        state.entries.append(Entry(kind, event_id, event.originator_version, event.occurred_at))

    return record


def _prescribed(
    state: ComplianceState, event: Participant.MedicationPrescribed, event_id: str
) -> None:
    ended = None if event.ended_on is None else date.fromisoformat(event.ended_on)
    state.prescriptions.append(
        Prescription(event_id, event.medication, date.fromisoformat(event.started_on), ended)
    )


def _medication_ended(
    state: ComplianceState, event: Participant.MedicationEnded, event_id: str
) -> None:
    for prescription in state.prescriptions:
        if prescription.prescription_id == event.prescription_id:
            prescription.ended_on = date.fromisoformat(event.ended_on)


def _corrected(state: ComplianceState, event: Participant.EntryCorrected, event_id: str) -> None:
    state.corrections[str(event.corrected_event_id)] = event_id


def _starts_stream(record: Recorder) -> bool:
    """Whether the event `record` records is the one a stream starts with (Registered)."""
    return record is _registered


def _nothing(state: ComplianceState, event: Participant.Event, event_id: str) -> None:
    """A participant's event no compliance fact depends on (its version still counts)."""


# In the order the checks apply (a subclass listed after its base is never reached).
_RECORDERS: FirstMatch[Recorder] = FirstMatch(
    [
        (Participant.Registered, _registered),
        (Participant.Admitted, _admitted),
        (Participant.LevelChanged, _level_changed),
        (Participant.Discharged, _discharged),
        (Participant.SessionAttended, _session(attended=True)),
        (Participant.SessionMissed, _session(attended=False)),
        (Participant.ScreeningResultRecorded, _screening),
        (Participant.Reassessed, _reassessed),
        (Participant.RecertificationRecorded, _entry("recertification")),
        (Participant.DischargeSummaryRecorded, _entry("discharge_summary")),
        (Participant.MedicationPrescribed, _prescribed),
        (Participant.MedicationEnded, _medication_ended),
        (Participant.EntryCorrected, _corrected),
        (Participant.Event, _nothing),
    ]
)


def _is_recode(state: ComplianceState, event: Participant.LevelChanged) -> bool:
    """A LevelRecoded, or a move stored as a step-up or step-down before re-codes had their
    own event (3rd `1` -> 4th `1.5` was stored as SteppedUp)."""
    if not state.stays or state.stays[-1].ended_at is not None:
        return False
    if isinstance(event, Participant.LevelRecoded):
        return True
    current = state.stays[-1]
    return is_recode(
        current.level, current.criteria_edition, event.to_level, event.criteria_edition
    )


def _end_stay(state: ComplianceState, at: datetime) -> datetime:
    """End the open stay at `at`, or at its start if `at` is earlier; returns the end."""
    if not state.stays or state.stays[-1].ended_at is not None:
        return at
    # The aggregate accepts a change back-dated before the previous change; keeping stays in
    # stream order (as the aggregate's current level is) means clamping it to a zero-length stay.
    end = max(at, state.stays[-1].started_at)
    state.stays[-1].ended_at = end
    return end


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
