"""The Program aggregate: a treatment program's compliance policy, changed by recorded events.

A policy change applies from the moment it is recorded (its `timestamp`), never retroactively,
so replaying the same events always yields the same compliance findings.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.chained import ChainedAggregate
from domain.participant import check_text
from domain.policy import DEFAULT_POLICY, PolicyTimeline, ProgramPolicy

PROGRAM_ID_NAMESPACE = UUID("0c6b0a52-5a8e-4f0b-8d3e-5f0f3c9a7b21")


# A deployment has a few programs and asks for their streams' ids on every compliance read
# (uuid5 hashes each time: ~2% of such a read's CPU in one process, py-spy).
@lru_cache(maxsize=1024)
def program_stream_id(program_id: str) -> UUID:
    """Programs are named by text ids; their streams by a UUID derived from it."""
    return uuid5(PROGRAM_ID_NAMESPACE, program_id)


class Program(ChainedAggregate):
    TOPIC = "continuum.Program"

    class Event(ChainedAggregate.Event):
        occurred_at: datetime
        recorded_by: str

    class Opened(Aggregate.Created, Event):
        TOPIC = "continuum.Program.Opened.v1"
        program_id: str

    Created = Opened

    class PolicyChanged(Event):
        """The program's compliance settings from this event's recorded moment on."""

        TOPIC = "continuum.Program.PolicyChanged.v1"
        policy: dict[str, Any]

        def apply(self, program: Program) -> None:
            program.policy_changes.append((self.timestamp, self.policy))

    def __init__(self, program_id: str, occurred_at: datetime, recorded_by: str) -> None:
        self.program_id = program_id
        self.policy_changes: list[tuple[datetime, dict[str, Any]]] = []

    @classmethod
    def open(cls, program_id: str, *, recorded_by: str, now: datetime) -> Program:
        check_text(program_id, "program_id")
        return cls._create(
            cls.Opened,
            id=program_stream_id(program_id),
            program_id=program_id,
            occurred_at=now,
            recorded_by=recorded_by,
            timestamp=now,
        )

    def change_policy(self, policy: ProgramPolicy, *, recorded_by: str, now: datetime) -> None:
        self.trigger_event(
            self.PolicyChanged,
            policy=policy.to_dict(),
            occurred_at=now,
            recorded_by=recorded_by,
            timestamp=now,
        )

    @property
    def current_policy(self) -> ProgramPolicy:
        if not self.policy_changes:
            return DEFAULT_POLICY
        return ProgramPolicy.from_dict(self.policy_changes[-1][1])

    @property
    def timeline(self) -> PolicyTimeline:
        timeline = PolicyTimeline(DEFAULT_POLICY)
        for moment, policy in self.policy_changes:
            timeline = timeline.changed(moment, ProgramPolicy.from_dict(policy))
        return timeline
