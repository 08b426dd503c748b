"""A synthetic, deterministic event log for rebuild benchmarks and rebuild tests.

Participants are driven through the aggregate's own commands (so every event is one the domain
accepts) and saved round by round, many aggregates per `save`, so the log interleaves
participants as a live program's would, and tens of thousands of events land in seconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.application import Application

from domain.commands import (
    Admit,
    ChangeLevel,
    CorrectEntry,
    ParticipantCommand,
    Reassess,
    RecordScreening,
    RecordSession,
)
from domain.participant import Participant

START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
RECORDED_BY = "synthetic"
DIMENSIONS = {"d1": 1, "d2": 0, "d3": 1, "d4": 2, "d5": 2, "d6": 1}
# Events each participant gets per round (one `save` of every participant per round).
EVENTS_PER_ROUND = 5

Progress = Callable[[int], None]  # events written so far


class _Walker:
    """One participant's story, a few events at a time, all in clinical order."""

    def __init__(self, index: int, seed: int, programs: int) -> None:
        self.rng = random.Random(seed * 1_000_003 + index)
        self.at = START + timedelta(hours=self.rng.randrange(0, 24 * 14))
        self.level = self.rng.choice(("2.1", "2.1", "2.5"))
        self.sessions: list[UUID] = []
        pid = UUID(int=seed << 64 | index)
        admission = Admit(
            participant_id=pid,
            program_id=f"program-{index % programs}",
            age_group=self.rng.choice(("adult", "adult", "adolescent")),
            level=self.level,
            pathway="primary",
            admitted_at=self.at,
            criteria_edition="3",
        )
        self.participant = Participant.open(admission, pid, recorded_by=RECORDED_BY, now=self.at)
        self.count = 2

    def step(self) -> None:
        self.at += timedelta(hours=self.rng.choice((4, 20, 24, 28, 48)))
        now = self.at + timedelta(hours=1)
        p, roll = self.participant, self.rng.random()
        command: ParticipantCommand
        if roll < 0.72:
            # Drawn in this order (attended, service, duration) so a seed keeps its log.
            attended = self.rng.random() < 0.9
            service = self.rng.choice(("group", "group", "individual", "psychoeducation"))
            command = RecordSession(
                participant_id=p.id,
                service=service,
                started_at=self.at,
                duration_minutes=self.rng.choice((60, 90, 180)),
                attended=attended,
                modality="CBT",
            )
        elif roll < 0.86:
            positive = self.rng.random() < 0.1
            command = RecordScreening(
                participant_id=p.id,
                collected_at=self.at,
                specimen="urine",
                status=self.rng.choice(("valid", "valid", "valid", "dilute")),
                results={"opioids": "negative", "cocaine": "positive" if positive else "negative"},
            )
        elif roll < 0.95:
            command = Reassess(
                participant_id=p.id,
                assessed_at=self.at,
                dimensions=DIMENSIONS,
                recommended_level=self.level,
                decided_level=self.level,
                rationale="continued stay review",
            )
        elif roll < 0.98 or not self.sessions:
            self.level = "2.5" if self.level == "2.1" else "2.1"
            command = ChangeLevel(
                participant_id=p.id,
                to_level=self.level,
                effective_at=self.at,
                reason="level review",
            )
        else:
            command = CorrectEntry(
                participant_id=p.id,
                event_id=self.sessions.pop(self.rng.randrange(len(self.sessions))),
                reason="entered in error",
            )
        p.execute(command, recorded_by=RECORDED_BY, now=now)
        if isinstance(command, RecordSession):
            self.sessions.append(p.last_event_id)
        self.count += 1


def write_log(
    app: Application[UUID],
    *,
    participants: int,
    events_per_participant: int,
    seed: int = 1,
    programs: int = 4,
    progress: Progress | None = None,
) -> int:
    """Append `participants` x `events_per_participant` events (at least 2 each); returns the
    number written. Deterministic for a given seed."""
    walkers = [_Walker(i, seed, programs) for i in range(participants)]
    written = 0
    while walkers:
        aggregates = [w.participant for w in walkers]
        written += sum(len(a.pending_events) for a in aggregates)
        app.save(*aggregates)
        if progress is not None:
            progress(written)
        walkers = [w for w in walkers if w.count < events_per_participant]
        for walker in walkers:
            for _ in range(min(EVENTS_PER_ROUND, events_per_participant - walker.count)):
                walker.step()
    return written
