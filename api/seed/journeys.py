"""Journeys as lists of timed commands, and the schedules that fill them.

A Journey plans one participant's steps (admission, sessions, screens, reviews, level changes,
discharge, corrections) as command values (domain.commands) with the moment each happened and
the moment staff entered it; it knows nothing about the store. The demo cohort (api.seed.demo)
and the generator (api.seed.generate) plan with the same schedules and run the same commands.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from api.seed.commands import admission, recorded_session
from domain.commands import (
    ChangeLevel,
    CorrectEntry,
    Discharge,
    ParticipantCommand,
    Reassess,
    Recorded,
    RecordScreening,
)

PANEL = ("amphetamines", "cocaine", "opiates", "pcp", "thc")  # the common urine 5-panel
GROUP_MODALITIES = ("CBT", "DBT", "MI", "12-step")
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = range(5)


# A step's command, built when it runs: a correction names an entry by its earlier receipt.
BuildCommand = Callable[[Mapping[str, Recorded]], ParticipantCommand]


@dataclass(frozen=True)
class Step:
    """One command of a journey: when it happened, when staff entered it, who, and what."""

    occurred_at: datetime
    recorded_at: datetime
    kind: str  # e.g. "session:group:attended", to find an entry when planning a correction
    recorded_by: str
    build: BuildCommand
    tag: str | None = None  # names the receipt for a later correction

    def command(self, receipts: Mapping[str, Recorded]) -> ParticipantCommand:
        return self.build(receipts)


@dataclass(frozen=True)
class Track:
    """When a program group meets: weekdays, start, group length and the other fixed slots."""

    name: str | None
    days: tuple[int, ...]
    start: time
    group_minutes: int
    psychoeducation_days: tuple[int, ...] = ()  # an hour after group those days
    individual: tuple[int, time] = (THURSDAY, time(12))


MORNING = Track("morning", (MONDAY, WEDNESDAY, FRIDAY), time(9), 180, (WEDNESDAY,))
EVENING = Track("evening", (MONDAY, TUESDAY, THURSDAY), time(18), 180, (TUESDAY,))
AFTER_SCHOOL = Track(
    "afternoon", (MONDAY, TUESDAY, THURSDAY), time(15, 30), 150, individual=(WEDNESDAY, time(16))
)
PHP_DAY = Track(
    "day",
    (MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY),
    time(9),
    180,
    (MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY),
    individual=(THURSDAY, time(15)),
)
RESIDENTIAL = Track(
    None,
    (MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY),
    time(10),
    90,
    individual=(THURSDAY, time(14)),
)


@dataclass
class Journey:
    """Plans one participant's steps; knows nothing about the store."""

    key: str
    participant_id: UUID
    rng: random.Random
    steps: list[Step] = field(default_factory=list)

    def _add(
        self,
        at: datetime,
        minutes_to_enter: int,
        kind: str,
        by: str,
        command: ParticipantCommand,
        tag: str | None = None,
    ) -> None:
        recorded = at + timedelta(minutes=minutes_to_enter + self.rng.randint(5, 60))
        self.steps.append(Step(at, recorded, kind, by, lambda _receipts: command, tag))

    def admit(
        self,
        day: date,
        program: str,
        level: str,
        pathway: str,
        *,
        age_group: str = "adult",
        referred_from: str | None = None,
        edition: str = "3",
    ) -> None:
        at = at_time(day, time(10))
        command = admission(
            at,
            program_id=program,
            level=level,
            participant_id=self.participant_id,
            age_group=age_group,
            pathway=pathway,
            criteria_edition=edition,
            referred_from_level=referred_from,
        )
        self._add(at, 60, "admit", "intake-fay", command)

    def session(
        self,
        at: datetime,
        service: str,
        minutes: int,
        *,
        attended: bool = True,
        modality: str | None = None,
        track: str | None = None,
        by: str = "clin-ana",
        tag: str | None = None,
    ) -> None:
        kind = f"session:{service}:{'attended' if attended else 'missed'}"
        command = recorded_session(
            self.participant_id,
            at,
            minutes,
            service=service,
            attended=attended,
            modality=modality,
            track=track,
        )
        self._add(at, minutes if attended else 30, kind, by, command, tag)

    def screen(
        self,
        at: datetime,
        *,
        positive: Iterable[str] = (),
        prescribed: Sequence[str] = (),
        status: str = "valid",
    ) -> None:
        positives = set(positive)
        results = (
            {}
            if status != "valid"
            else {s: "positive" if s in positives else "negative" for s in (*PANEL, *prescribed)}
        )
        command = RecordScreening(
            participant_id=self.participant_id,
            collected_at=at,
            specimen="urine",
            status=status,
            results=results,
            prescribed=prescribed,
        )
        self._add(at, 20, f"screening:{status}", "lab-eli", command)

    def reassess(
        self, at: datetime, ratings: Sequence[int], recommended: str, decided: str, why: str
    ) -> None:
        command = Reassess(
            participant_id=self.participant_id,
            assessed_at=at,
            dimensions={f"d{i}": rating for i, rating in enumerate(ratings, start=1)},
            recommended_level=recommended,
            decided_level=decided,
            rationale=why,
        )
        self._add(at, 45, "reassessment", "clin-ana", command)

    def change_level(self, day: date, to_level: str, reason: str) -> None:
        at = at_time(day, time(9))
        command = ChangeLevel(
            participant_id=self.participant_id, to_level=to_level, effective_at=at, reason=reason
        )
        self._add(at, 30, "level_change", "clin-ana", command)

    def discharge(self, day: date, reason: str, to_level: str | None = None) -> None:
        at = at_time(day, time(16))
        command = Discharge(
            participant_id=self.participant_id, discharged_at=at, reason=reason, to_level=to_level
        )
        self._add(at, 30, "discharge", "clin-ana", command)

    def correct(self, tag: str, reason: str, *, after: timedelta) -> None:
        """Mark the entry tagged `tag` entered-in-error, `after` it was first entered."""
        pid = self.participant_id
        entered = next(s.recorded_at for s in self.steps if s.tag == tag)

        def correction(receipts: Mapping[str, Recorded]) -> ParticipantCommand:
            return CorrectEntry(participant_id=pid, event_id=receipts[tag].event_id, reason=reason)

        self.steps.append(
            Step(entered + after, entered + after, "correction", "clin-ana", correction)
        )


def at_time(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=UTC)


def days(first: date, last: date) -> Iterator[date]:
    """Every day from `first` to `last`, both included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


# ---- schedules --------------------------------------------------------------------------------


def attend_program(
    j: Journey,
    first: date,
    last: date,
    track: Track,
    *,
    miss_rate: float = 0.06,
    individual_every_weeks: int | None = 1,
    family_every_weeks: int | None = None,
    case_management: bool = True,
    by: str = "clin-ana",
) -> None:
    """The track's sessions from `first` to `last`, with the occasional missed one."""
    individual_day, individual_at = track.individual
    for day in days(first, last):
        week = (day - first).days // 7
        if day.weekday() in track.days:
            start = at_time(day, track.start)
            attended = j.rng.random() >= miss_rate
            modality = GROUP_MODALITIES[(week + day.weekday()) % len(GROUP_MODALITIES)]
            j.session(
                start,
                "group",
                track.group_minutes,
                attended=attended,
                modality=modality,
                track=track.name,
                by=by,
            )
            if day.weekday() in track.psychoeducation_days:
                after_group = start + timedelta(minutes=track.group_minutes + 30)
                j.session(
                    after_group, "psychoeducation", 60, attended=attended, track=track.name, by=by
                )
        if day.weekday() == individual_day and individual_every_weeks:
            if week % individual_every_weeks == 0:
                j.session(
                    at_time(day, individual_at),
                    "individual",
                    j.rng.choice((50, 55, 60)),
                    attended=j.rng.random() >= miss_rate / 2,
                    modality=j.rng.choice(("CBT", "MI")),
                    by=by,
                )
            if case_management and week % 2 == 1:
                after_individual = at_time(day, individual_at) + timedelta(minutes=70)
                j.session(after_individual, "case_management", 30, by="case-dee")
        if day.weekday() == FRIDAY and family_every_weeks and week % family_every_weeks == 0:
            j.session(at_time(day, time(17)), "family", 60, modality="other", by=by)


def screen_weekly(
    j: Journey,
    first: date,
    last: date,
    *,
    hour: int = 8,
    prescribed: Sequence[str] = (),
    unexpected: Mapping[date, str] | None = None,
    dilute_on: date | None = None,
) -> None:
    """A urine screen every Monday; a prescribed medicine shows positive, as expected."""
    for day in days(first, last):
        if day.weekday() != MONDAY:
            continue
        at = at_time(day, time(hour))
        if day == dilute_on:
            j.screen(at, status="dilute")
            continue
        extra = (unexpected or {}).get(day)
        j.screen(at, positive=(*prescribed, *([extra] if extra else [])), prescribed=prescribed)


def reassess_every_28_days(
    j: Journey, level_since: date, last: date, level: str, ratings: Sequence[int]
) -> None:
    """Continued-stay reviews (due every 30 days at Level 2.x), deciding to stay put."""
    day = level_since + timedelta(days=28)
    while day <= last:
        eased = [max(0, r - j.rng.randint(0, 1)) for r in ratings]
        j.reassess(
            at_time(day, time(15)),
            eased,
            level,
            level,
            "Continued-stay review: engaged and progressing; continue at this level.",
        )
        day += timedelta(days=28)
