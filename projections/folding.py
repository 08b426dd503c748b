"""Running a per-participant `apply(state, event)` over one stream or an interleaved log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from domain.participant import Participant

S = TypeVar("S")
Apply = Callable[[S | None, object], S | None]


def fold_stream(apply: Apply[S], events: Iterable[object]) -> S | None:
    """One participant's state from their stream (None before a Registered event)."""
    state: S | None = None
    for event in events:
        state = apply(state, event)
    return state


def fold_log(apply: Apply[S], events: Iterable[object]) -> dict[str, S]:
    """Every participant's state from an interleaved log, keyed by participant id."""
    states: dict[str, S] = {}
    for event in events:
        if not isinstance(event, Participant.Event):
            continue
        key = str(event.originator_id)
        advanced = apply(states.get(key), event)
        if advanced is not None:
            states[key] = advanced
    return states
