"""The facts one participant's compliance depends on, folded from their stream.

The fold only collects facts (episodes, stays at a level, sessions, screens, reassessments,
corrections) in stream order; every rule is judged later, in clinical time, by `evaluate`
in projections/compliance.py. So an entry recorded late, or a correction recorded after its
entry, changes the report exactly as if it had been known from the start.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.participant import Participant
from projections.folding import fold_log, fold_stream


@dataclass
class Episode:
    number: int
    age_group: str
    admitted_at: datetime
    event_id: str
    discharged_at: datetime | None = None
    discharge_event_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "age_group": self.age_group,
            "admitted_at": self.admitted_at.isoformat(),
            "event_id": self.event_id,
            "discharged_at": _iso(self.discharged_at),
            "discharge_event_id": self.discharge_event_id,
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
class Entry:
    """A correctable entry: a session, a screen or a reassessment. Never changed once
    recorded (a correction is kept apart), so its stored form is computed once."""

    kind: str  # session | screening | reassessment
    event_id: str
    version: int
    occurred_at: datetime
    service: str | None = None
    minutes: int = 0
    attended: bool = False
    outcome: str | None = None  # a screen's ScreeningOutcome value
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
            ]
        return self._stored

    @classmethod
    def from_list(cls, data: list[Any]) -> Entry:
        kind, event_id, version, at, service, minutes, attended, outcome = data
        return cls(
            kind,
            event_id,
            version,
            datetime.fromisoformat(at),
            service,
            minutes,
            attended,
            outcome,
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
    version: int = 0
    # The JSON of entries[:_entries_encoded] (entries are only ever appended): a view row is
    # rewritten after every batch, and re-encoding every entry each time dominated rebuilds.
    _entries_text: str = field(default="", compare=False, repr=False)
    _entries_encoded: int = field(default=0, compare=False, repr=False)

    def live_entries(self, kind: str) -> list[Entry]:
        """Entries of `kind` not marked entered-in-error, in clinical then stream order."""
        live = [e for e in self.entries if e.kind == kind and e.event_id not in self.corrections]
        return sorted(live, key=lambda e: (e.occurred_at, e.version))

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_dict_without_entries(), "entries": [e.to_list() for e in self.entries]}

    def to_dict_without_entries(self) -> dict[str, Any]:
        return {
            "participant_id": self.participant_id,
            "program_id": self.program_id,
            "episodes": [e.to_dict() for e in self.episodes],
            "stays": [s.to_dict() for s in self.stays],
            "corrections": self.corrections,
            "version": self.version,
        }

    def to_json(self) -> str:
        """`to_dict()` as compact JSON, re-encoding only the entries added since last time."""
        if self._entries_encoded < len(self.entries):
            new = self.entries[self._entries_encoded :]
            chunk = json.dumps([e.to_list() for e in new], separators=(",", ":"))[1:-1]
            self._entries_text = f"{self._entries_text},{chunk}" if self._entries_text else chunk
            self._entries_encoded = len(self.entries)
        head = json.dumps(self.to_dict_without_entries(), separators=(",", ":"))
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
            version=data["version"],
        )


def apply(
    state: ComplianceState | None, event: object, event_id: str | None = None
) -> ComplianceState | None:
    """`state` advanced by `event` (in place when given; a Registered event starts one).

    Events at or below the state's version were applied already and are skipped. `event_id`,
    when the caller has it already, is the event's id as text."""
    if not isinstance(event, Participant.Event):
        return state
    if state is None:
        if not isinstance(event, Participant.Registered):
            return None
        state = ComplianceState(participant_id=str(event.originator_id), program_id="")
    if event.originator_version <= state.version:
        return state
    state.version = event.originator_version
    _record(state, event, str(event.event_id) if event_id is None else event_id)
    return state


def fold(events: Iterable[object]) -> ComplianceState | None:
    """One participant's compliance facts from their stream (None before Registered)."""
    return fold_stream(apply, events)


def fold_all(events: Iterable[object]) -> dict[str, ComplianceState]:
    """Every participant's compliance facts from an interleaved log, by participant id."""
    return fold_log(apply, events)


def _record(state: ComplianceState, event: Participant.Event, event_id: str) -> None:
    at = event.occurred_at
    if isinstance(event, Participant.Registered):
        state.program_id = event.program_id
    elif isinstance(event, Participant.Admitted):
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
    elif isinstance(event, Participant.LevelChanged):
        at = _end_stay(state, at)
        entered_by = "stepped_down" if isinstance(event, Participant.SteppedDown) else "stepped_up"
        episode = state.episodes[-1].number if state.episodes else 0
        state.stays.append(
            Stay(event.to_level, event.criteria_edition, episode, at, event_id, entered_by)
        )
    elif isinstance(event, Participant.Discharged):
        at = _end_stay(state, at)
        if state.episodes:
            state.episodes[-1].discharged_at = at
            state.episodes[-1].discharge_event_id = event_id
    elif isinstance(event, Participant.SessionAttended | Participant.SessionMissed):
        state.entries.append(
            Entry(
                "session",
                event_id,
                event.originator_version,
                at,
                service=event.service,
                minutes=event.duration_minutes,
                attended=isinstance(event, Participant.SessionAttended),
            )
        )
    elif isinstance(event, Participant.ScreeningResultRecorded):
        state.entries.append(
            Entry(
                "screening",
                event_id,
                event.originator_version,
                at,
                outcome=event.screening.outcome.value,
            )
        )
    elif isinstance(event, Participant.Reassessed):
        state.entries.append(Entry("reassessment", event_id, event.originator_version, at))
    elif isinstance(event, Participant.EntryCorrected):
        state.corrections[str(event.corrected_event_id)] = event_id


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
