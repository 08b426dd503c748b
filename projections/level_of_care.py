"""Level-of-care read model: where each participant is now, since when, and how they got there.

A pure fold in stream order. `apply` advances one participant's state by one event and skips
an event it has already seen (by stream version), so a feed that repeats events is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from domain.participant import Participant
from projections.dispatch import FirstMatch
from projections.folding import fold_log, fold_stream


@dataclass
class LevelSpan:
    """One stay at a level: from the event that started it until the next change or discharge."""

    level: str
    criteria_edition: str
    episode: int
    started_at: datetime
    ended_at: datetime | None
    event_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "criteria_edition": self.criteria_edition,
            "episode": self.episode,
            "from": self.started_at.isoformat(),
            "to": None if self.ended_at is None else self.ended_at.isoformat(),
            "event_id": self.event_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LevelSpan:
        return cls(
            level=data["level"],
            criteria_edition=data["criteria_edition"],
            episode=data["episode"],
            started_at=datetime.fromisoformat(data["from"]),
            ended_at=_parse_optional(data["to"]),
            event_id=data["event_id"],
        )


@dataclass
class LevelOfCareState:
    """One participant's current level of care and level history."""

    participant_id: str
    program_id: str
    status: str = "registered"  # registered | active | discharged
    episode: int = 0
    age_group: str | None = None
    admitted_at: datetime | None = None  # of the current (or last) episode
    discharged_at: datetime | None = None
    history: list[LevelSpan] = field(default_factory=list)
    version: int = 0  # the last stream version applied

    @property
    def current(self) -> LevelSpan | None:
        if self.status != "active" or not self.history:
            return None
        return self.history[-1]

    @property
    def level(self) -> str | None:
        return self.history[-1].level if self.history else None

    @property
    def level_since(self) -> datetime | None:
        return self.history[-1].started_at if self.history else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "participant_id": self.participant_id,
            "program_id": self.program_id,
            "status": self.status,
            "level": self.level,
            "level_since": None if self.level_since is None else self.level_since.isoformat(),
            "episode": self.episode,
            "age_group": self.age_group,
            "admitted_at": None if self.admitted_at is None else self.admitted_at.isoformat(),
            "discharged_at": (
                None if self.discharged_at is None else self.discharged_at.isoformat()
            ),
            "history": [span.to_dict() for span in self.history],
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LevelOfCareState:
        return cls(
            participant_id=data["participant_id"],
            program_id=data["program_id"],
            status=data["status"],
            episode=data["episode"],
            age_group=data["age_group"],
            admitted_at=_parse_optional(data["admitted_at"]),
            discharged_at=_parse_optional(data["discharged_at"]),
            history=[LevelSpan.from_dict(span) for span in data["history"]],
            version=data["version"],
        )


def apply(
    state: LevelOfCareState | None, event: object, event_id: str | None = None
) -> LevelOfCareState | None:
    """`state` advanced by `event` (in place when given; a Registered event starts one).

    `event_id`, when the caller has it already, is the event's id as text."""
    record = _RECORDERS(type(event))
    if record is None:  # not a participant's event
        return state
    event = cast(Participant.Event, event)
    if state is None:
        if not _starts_stream(record):
            return None  # a stream's first event is always Registered
        state = LevelOfCareState(participant_id=str(event.originator_id), program_id="")
    if event.originator_version <= state.version:
        return state
    state.version = event.originator_version
    record(state, event, str(event.event_id) if event_id is None else event_id)
    return state


def fold(events: Iterable[object]) -> LevelOfCareState | None:
    """One participant's state from their stream (None before a Registered event)."""
    return fold_stream(apply, events)


def fold_all(events: Iterable[object]) -> dict[str, LevelOfCareState]:
    """Every participant's state from an interleaved log, keyed by participant id."""
    return fold_log(apply, events)


# What each event changes; the same `(state, event, event_id)` for every kind.
Recorder = Callable[[LevelOfCareState, Any, str], None]


def _registered(state: LevelOfCareState, event: Participant.Registered, event_id: str) -> None:
    state.program_id = event.program_id


def _admitted(state: LevelOfCareState, event: Participant.Admitted, event_id: str) -> None:
    state.program_id = event.program_id
    state.status = "active"
    state.episode = event.episode
    state.age_group = event.age_group
    state.admitted_at = event.occurred_at
    state.discharged_at = None
    state.history.append(
        LevelSpan(
            event.level, event.criteria_edition, event.episode, event.occurred_at, None, event_id
        )
    )


def _level_changed(state: LevelOfCareState, event: Participant.LevelChanged, event_id: str) -> None:
    _close_current(state, event.occurred_at)
    state.history.append(
        LevelSpan(
            event.to_level, event.criteria_edition, state.episode, event.occurred_at, None, event_id
        )
    )


def _discharged(state: LevelOfCareState, event: Participant.Discharged, event_id: str) -> None:
    _close_current(state, event.occurred_at)
    state.status = "discharged"
    state.discharged_at = event.occurred_at


def _nothing(state: LevelOfCareState, event: Participant.Event, event_id: str) -> None:
    """A participant's event that leaves the level of care as it was (its version counts)."""


def _starts_stream(record: Recorder) -> bool:
    """Whether the event `record` records is the one a stream starts with (Registered)."""
    return record is _registered


# In the order the checks apply (a subclass listed after its base is never reached).
_RECORDERS: FirstMatch[Recorder] = FirstMatch(
    [
        (Participant.Registered, _registered),
        (Participant.Admitted, _admitted),
        (Participant.LevelChanged, _level_changed),
        (Participant.Discharged, _discharged),
        (Participant.Event, _nothing),
    ]
)


def _close_current(state: LevelOfCareState, at: datetime) -> None:
    if state.history and state.history[-1].ended_at is None:
        state.history[-1].ended_at = at


def _parse_optional(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
