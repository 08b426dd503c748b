"""PolicyCache.versioned: a caller that has just looked at the program's stream saves a look."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.popo import POPOAggregateRecorder

from domain.service.policy_cache import PolicyCache


class CountedLooks(POPOAggregateRecorder):
    """A real in-memory recorder that counts the reads of a stream."""

    def __init__(self) -> None:
        super().__init__()
        self.looks = 0

    def select_events(self, originator_id: UUID | str, **kwargs: Any) -> list[StoredEvent]:
        self.looks += 1
        return list(super().select_events(originator_id, **kwargs))


def test_a_version_found_unchanged_by_the_caller_is_answered_without_another_look() -> None:
    """Given a program's policy kept at version 0 (no stream: the defaults), when a read
    says it found nothing past version 0, then the kept version answers without a look;
    without that, the stream is looked at as before."""
    recorder = CountedLooks()
    policies = PolicyCache(recorder, load=lambda program_id: None)
    assert policies.kept("p1") is None
    assert policies.versioned("p1")[0] == 0  # loaded: nothing kept yet
    assert policies.kept("p1") == 0
    recorder.looks = 0

    assert policies.versioned("p1", unchanged_since=0)[0] == 0
    assert recorder.looks == 0

    assert policies.versioned("p1")[0] == 0
    assert recorder.looks == 1


def test_a_version_found_unchanged_since_a_later_one_than_kept_is_looked_at() -> None:
    """A caller's look from a later version than the one kept says nothing about the kept
    one: the stream is looked at."""
    recorder = CountedLooks()
    policies = PolicyCache(recorder, load=lambda program_id: None)
    policies.versioned("p1")
    recorder.looks = 0

    policies.versioned("p1", unchanged_since=3)

    assert recorder.looks == 1
