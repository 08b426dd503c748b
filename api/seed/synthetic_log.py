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
        self.participant = Participant.register(
            UUID(int=seed << 64 | index),
            f"program-{index % programs}",
            occurred_at=self.at,
            recorded_by=RECORDED_BY,
            now=self.at,
        )
        self.participant.admit(
            program_id=f"program-{index % programs}",
            age_group=self.rng.choice(("adult", "adult", "adolescent")),
            level=self.level,
            criteria_edition="3",
            pathway="primary",
            referred_from_level=None,
            occurred_at=self.at,
            recorded_by=RECORDED_BY,
            now=self.at,
        )
        self.count = 2

    def step(self) -> None:
        self.at += timedelta(hours=self.rng.choice((4, 20, 24, 28, 48)))
        now = self.at + timedelta(hours=1)
        p, roll = self.participant, self.rng.random()
        if roll < 0.72:
            p.record_session(
                attended=self.rng.random() < 0.9,
                service=self.rng.choice(("group", "group", "individual", "psychoeducation")),
                duration_minutes=self.rng.choice((60, 90, 180)),
                modality="CBT",
                track=None,
                occurred_at=self.at,
                recorded_by=RECORDED_BY,
                now=now,
            )
            self.sessions.append(p.last_event_id)
        elif roll < 0.86:
            positive = self.rng.random() < 0.1
            p.record_screening(
                specimen="urine",
                status=self.rng.choice(("valid", "valid", "valid", "dilute")),
                results={"opioids": "negative", "cocaine": "positive" if positive else "negative"},
                prescribed=(),
                occurred_at=self.at,
                recorded_by=RECORDED_BY,
                now=now,
            )
        elif roll < 0.95:
            p.reassess(
                dimensions=DIMENSIONS,
                recommended_level=self.level,
                decided_level=self.level,
                criteria_edition=None,
                rationale="continued stay review",
                occurred_at=self.at,
                recorded_by=RECORDED_BY,
                now=now,
            )
        elif roll < 0.98 or not self.sessions:
            self.level = "2.5" if self.level == "2.1" else "2.1"
            p.change_level(
                to_level=self.level,
                criteria_edition=None,
                reason="level review",
                occurred_at=self.at,
                recorded_by=RECORDED_BY,
                now=now,
            )
        else:
            p.correct_entry(
                event_id=self.sessions.pop(self.rng.randrange(len(self.sessions))),
                reason="entered in error",
                recorded_by=RECORDED_BY,
                now=now,
            )
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
