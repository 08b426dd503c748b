"""A participant's record on two time axes: what was known when, and what held when.

- `known_at` (recorded time) cuts the stream: only events recorded by then count. The cut is
  the stream's prefix up to the last event whose `timestamp` is <= `known_at` (an event is
  appended after every event before it, so nothing later in the stream was there yet). An
  entry recorded a week late, or a correction recorded after its entry, is absent before its
  recording: a replay before a correction still shows the original entry's effect.
- `as_of` (clinical time) is the instant the state is effective at: the episode, status and
  level holding then, the level history up to then, and compliance judged as of that date
  with only the facts that had occurred by that instant.

The program's policy is cut at `known_at` as well (a policy change applies from the moment it
was recorded). Everything here is pure: the caller hands in the events and the timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import takewhile
from typing import Any

from domain.participant import Participant
from domain.policy import PolicyTimeline
from projections import level_of_care
from projections.compliance import ComplianceReport, evaluate
from projections.compliance import state as compliance_state
from projections.compliance.state import ComplianceState, Episode
from projections.level_of_care import LevelSpan

# `status` before the participant's first admission effective at as_of; and before the stream
# was recorded at all (known_at earlier than the first event).
NOT_YET_ADMITTED = "registered"
NOT_RECORDED = "not_recorded"


@dataclass(frozen=True)
class KnownCorrection:
    """An EntryCorrected known by `known_at`: from then on its entry no longer counts."""

    event_id: str
    corrected_event_id: str
    recorded_at: datetime
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "corrected_event_id": self.corrected_event_id,
            "recorded_at": self.recorded_at.isoformat(),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class History:
    """The participant's state as recorded by `known_at`, effective at `as_of`."""

    participant_id: str
    known_at: datetime
    as_of: datetime
    stream_version: int  # the version the stream had reached by known_at (0: not recorded)
    recorded_later: int  # events of the stream recorded after known_at
    program_id: str | None
    status: str  # not_recorded | registered | active | discharged
    episode: Episode | None  # the episode holding (or last ended) at as_of
    span: LevelSpan | None  # the stay at a level holding (or last ended) at as_of
    level_history: tuple[LevelSpan, ...]  # stays started by as_of; `to` None if open then
    corrections: tuple[KnownCorrection, ...]
    compliance: ComplianceReport | None
    policy: PolicyTimeline

    @property
    def level(self) -> str | None:
        return None if self.span is None else self.span.level

    @property
    def level_since(self) -> datetime | None:
        return None if self.span is None else self.span.started_at


def known_by(events: Iterable[Participant.Event], known_at: datetime) -> list[Participant.Event]:
    """The stream as it stood at `known_at`: its prefix of events recorded by then."""
    return list(takewhile(lambda e: e.timestamp <= known_at, events))


def program_of(events: Iterable[Participant.Event]) -> str | None:
    """The program the stream last placed the participant in (registration or admission)."""
    program_id = None
    for event in events:
        if isinstance(event, Participant.Registered | Participant.Admitted):
            program_id = event.program_id
    return program_id


def policy_known_at(timeline: PolicyTimeline, known_at: datetime) -> PolicyTimeline:
    """The policy timeline as recorded by `known_at` (changes are effective when recorded)."""
    kept = tuple((moment, policy) for moment, policy in timeline.changes if moment <= known_at)
    return PolicyTimeline(timeline.initial, kept)


def replay(
    events: Sequence[Participant.Event],
    *,
    known_at: datetime,
    as_of: datetime,
    policy: PolicyTimeline,
) -> History:
    """The participant's state from `events` (their whole stream, in stream order)."""
    known = known_by(events, known_at)
    participant_id = str(events[0].originator_id) if events else ""
    return state_at(
        known,
        participant_id=participant_id,
        known_at=known_at,
        as_of=as_of,
        policy=policy_known_at(policy, known_at),
        recorded_later=len(events) - len(known),
    )


def state_at(
    known: Sequence[Participant.Event],
    *,
    participant_id: str,
    known_at: datetime,
    as_of: datetime,
    policy: PolicyTimeline,
    recorded_later: int = 0,
) -> History:
    """The state effective at `as_of` from the events `known` (already cut at recorded time)."""
    levels = level_of_care.fold(known)
    facts = compliance_state.fold(known)
    if levels is None or facts is None:
        return History(
            participant_id=participant_id,
            known_at=known_at,
            as_of=as_of,
            stream_version=0,
            recorded_later=recorded_later,
            program_id=None,
            status=NOT_RECORDED,
            episode=None,
            span=None,
            level_history=(),
            corrections=(),
            compliance=None,
            policy=policy,
        )
    effective = effective_at(facts, as_of)
    episode = effective.episodes[-1] if effective.episodes else None
    spans = tuple(_span_as_of(s, as_of) for s in levels.history if s.started_at <= as_of)
    span = _holding(spans, episode)
    # A moment: evaluate() takes the local day it falls on in the program's zone then.
    report = evaluate(effective, as_of, policy)
    return History(
        participant_id=participant_id,
        known_at=known_at,
        as_of=as_of,
        stream_version=levels.version,
        recorded_later=recorded_later,
        program_id=levels.program_id,
        status=_status(episode),
        episode=episode,
        span=span,
        level_history=spans,
        corrections=tuple(_corrections(known)),
        compliance=report,
        policy=policy,
    )


def effective_at(state: ComplianceState, as_of: datetime) -> ComplianceState:
    """`state` with only what had occurred by `as_of`: later admissions, stays and entries
    left out, and ends (discharges, level changes) after `as_of` not yet happened.

    Corrections stay whatever their own time: an entry known to be in error never counted."""
    episodes = [_episode_as_of(e, as_of) for e in state.episodes if e.admitted_at <= as_of]
    stays = [
        s if s.ended_at is None or s.ended_at <= as_of else replace(s, ended_at=None)
        for s in state.stays
        if s.started_at <= as_of
    ]
    return replace(
        state,
        episodes=episodes,
        stays=stays,
        entries=[e for e in state.entries if e.occurred_at <= as_of],
        corrections=dict(state.corrections),
    )


def _episode_as_of(episode: Episode, as_of: datetime) -> Episode:
    if episode.discharged_at is not None and episode.discharged_at > as_of:
        return replace(episode, discharged_at=None, discharge_event_id=None)
    return episode


def _span_as_of(span: LevelSpan, as_of: datetime) -> LevelSpan:
    if span.ended_at is not None and span.ended_at > as_of:
        return replace(span, ended_at=None)
    return span


def _holding(spans: Sequence[LevelSpan], episode: Episode | None) -> LevelSpan | None:
    """The episode's latest stay started by as_of (spans follow stream order)."""
    if episode is None:
        return None
    of_episode = [s for s in spans if s.episode == episode.number]
    return of_episode[-1] if of_episode else None


def _status(episode: Episode | None) -> str:
    if episode is None:
        return NOT_YET_ADMITTED
    return "active" if episode.discharged_at is None else "discharged"


def _corrections(known: Iterable[Participant.Event]) -> Iterable[KnownCorrection]:
    for event in known:
        if isinstance(event, Participant.EntryCorrected):
            yield KnownCorrection(
                str(event.event_id),
                str(event.corrected_event_id),
                event.timestamp,
                event.reason,
            )
