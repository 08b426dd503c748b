"""`continuum generate`: a made-up cohort at any size, for benchmarks and load tests.

Journeys reuse the demo's schedules (api.seed.journeys: program tracks, weekly screens, 28-day
reviews, residential step-downs) with their parameters drawn from a seeded RNG:

- residential admissions (3.5, 28-30 days, reassessed, stepped down to 2.1), a share of them
  on buprenorphine, whose screens show it positive as prescribed;
- primary admissions to 2.1, and to 2.5 stepping down to 2.1 after three to five weeks;
- group, psychoeducation, individual, family and case-management sessions (3-5 program days a
  week) with absences, weekly urine screens with a few unexpected positives and the odd dilute
  specimen, continued-stay reassessments every 28 days;
- discharges of every kind (completed, dropped out after fading attendance, against advice,
  transferred, administrative, other) for stays that end before `today`, the rest still
  active; a few duplicate entries marked entered-in-error.

Admissions are spread over the `weeks` before `today`. Ids and choices derive from the seed:
the same (participants, weeks, seed, today) always records the same events.

Writing uses the application's batch path: each planned command (the same values the demo
executes through the application) runs on the Participant aggregate, so the domain checks every
one, and many aggregates are saved per `app.save(...)` call, in the order staff would have
entered them within each group of participants.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from api.seed.journeys import (
    EVENING,
    MORNING,
    PHP_DAY,
    RESIDENTIAL,
    Journey,
    Step,
    Track,
    at_time,
    attend_program,
    reassess_every_28_days,
    screen_weekly,
)
from domain.application import ContinuumApplication
from domain.commands import Admit, ParticipantCommand, Recorded
from domain.participant import Participant

GENERATED_NAMESPACE = UUID("5b0f1f7e-3c55-4d0c-9d56-0a6f2f9e7c41")
PROGRAMS = ("harbor-php", "riverside-iop", "lakeside-iop", "summit-recovery")
# Participants planned, interleaved and saved together: bounds memory at any cohort size.
CHUNK_PARTICIPANTS = 400
# Events per `app.save(...)`: large enough to amortise the transaction, small enough to stream.
SAVE_BATCH_EVENTS = 2000
# (reason, weight, to_level): how stays end.
DISCHARGES = (
    ("completed", 45, "1"),
    ("dropped_out", 20, None),
    ("against_advice", 10, None),
    ("transferred", 10, "2.1"),
    ("administrative", 8, None),
    ("other", 7, None),
)
UNEXPECTED_SUBSTANCES = ("cocaine", "thc", "amphetamines", "opiates")

Progress = Callable[[int, int], None]  # (participants done, events written)


@dataclass(frozen=True)
class GenerateResult:
    participants: int
    events: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def generated_participant_id(seed: int, index: int) -> UUID:
    return uuid5(GENERATED_NAMESPACE, f"continuum-generate/{seed}/{index}")


# ---- planning ---------------------------------------------------------------------------------


def plan_participant(seed: int, index: int, *, weeks: int, today: date) -> Journey:
    """One participant's journey, admitted within the `weeks` before `today`."""
    rng = random.Random(f"{seed}/{index}")
    j = Journey(f"generated-{seed}-{index}", generated_participant_id(seed, index), rng)
    admitted = today - timedelta(days=rng.randint(2, max(2, weeks * 7)))
    program = PROGRAMS[index % len(PROGRAMS)]
    on_buprenorphine = rng.random() < 0.12
    prescribed = ("buprenorphine",) if on_buprenorphine else ()
    kind = rng.random()
    track = rng.choice((MORNING, EVENING))
    # The stay's planned end; stays ending before today are discharged.
    if kind < 0.3:  # residential, then IOP
        end, last, step_day = _stepped_stay(rng, admitted, today, (28, 30), (35, 84))
        j.admit(admitted, program, "3.5", "primary")
        _attend(j, admitted + timedelta(days=1), min(last, step_day - timedelta(days=1)),
                RESIDENTIAL, prescribed, miss_rate=0.0)  # fmt: skip
        if step_day <= last:
            j.reassess(
                at_time(step_day - timedelta(days=2), track.start),
                (0, 1, 2, 2, 2, 1),
                "2.1",
                "2.1",
                "Withdrawal complete, stable housing; ready for intensive outpatient.",
            )
            j.change_level(step_day, "2.1", "Residential goals met; step down to IOP.")
            _attend(j, step_day, last, track, prescribed)
            reassess_every_28_days(j, step_day, last, "2.1", (0, 1, 2, 1, 2, 1))
    elif kind < 0.5:  # partial hospitalization, then IOP
        end, last, step_day = _stepped_stay(rng, admitted, today, (21, 35), (28, 70))
        j.admit(admitted, program, "2.5", "primary")
        _attend(j, admitted + timedelta(days=1), min(last, step_day - timedelta(days=1)),
                PHP_DAY, prescribed)  # fmt: skip
        reassess_every_28_days(j, admitted, min(last, step_day - timedelta(days=1)), "2.5",
                               (0, 0, 2, 1, 2, 1))  # fmt: skip
        if step_day <= last:
            j.change_level(step_day, "2.1", "PHP goals met; step down to intensive outpatient.")
            _attend(j, step_day, last, track, prescribed)
            reassess_every_28_days(j, step_day, last, "2.1", (0, 0, 2, 1, 2, 1))
    else:  # primary IOP admission
        end = admitted + timedelta(days=rng.randint(42, 120))
        last = min(end, today) - timedelta(days=1)
        j.admit(admitted, program, "2.1", "primary",
                age_group="adolescent" if rng.random() < 0.15 else "adult")  # fmt: skip
        _attend(j, admitted + timedelta(days=1), last, track, prescribed)
        reassess_every_28_days(j, admitted, last, "2.1", (0, 1, 2, 2, 2, 2))
    if end < today:
        _discharge(j, end)
    if rng.random() < 0.08:
        _correct_a_duplicate(j)
    return j


def _stepped_stay(
    rng: random.Random,
    admitted: date,
    today: date,
    first_days: tuple[int, int],
    then_days: tuple[int, int],
) -> tuple[date, date, date]:
    """A stay at a first level for a random number of `first_days`, then a random number of
    `then_days` at the next: (the planned end, the last day to plan, the step's day)."""
    at_first = rng.randint(*first_days)
    end = admitted + timedelta(days=at_first + rng.randint(*then_days))
    return end, min(end, today) - timedelta(days=1), admitted + timedelta(days=at_first)


def _attend(
    j: Journey,
    first: date,
    last: date,
    track: Track,
    prescribed: Sequence[str],
    *,
    miss_rate: float | None = None,
) -> None:
    if first > last:
        return
    rate = j.rng.choice((0.03, 0.06, 0.1, 0.2)) if miss_rate is None else miss_rate
    family = j.rng.choice((None, 2))
    attend_program(j, first, last, track, miss_rate=rate, family_every_weeks=family)
    mondays = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    mondays = [d for d in mondays if d.weekday() == 0]
    unexpected: dict[date, str] = {}
    for monday in mondays:
        if j.rng.random() < 0.05:
            unexpected[monday] = j.rng.choice(UNEXPECTED_SUBSTANCES)
    dilute = next((m for m in mondays if j.rng.random() < 0.02), None)
    screen_weekly(j, first, last, prescribed=prescribed, unexpected=unexpected, dilute_on=dilute)


def _discharge(j: Journey, day: date) -> None:
    reasons = [reason for reason, _, _ in DISCHARGES]
    weights = [weight for _, weight, _ in DISCHARGES]
    reason = j.rng.choices(reasons, weights)[0]
    to_level = {r: level for r, _, level in DISCHARGES}[reason]
    j.discharge(day, reason, to_level=to_level)


def _correct_a_duplicate(j: Journey) -> None:
    """A group session entered twice; the copy is marked entered-in-error a day later."""
    groups = [s for s in j.steps if s.kind == "session:group:attended"]
    if not groups:
        return
    original = j.rng.choice(groups)
    tag = f"{j.key}/duplicate"
    j.session(original.occurred_at, "group", 180, modality="CBT", tag=tag)
    j.correct(tag, "Entered in error: a duplicate of that day's group session.",
              after=timedelta(days=1))  # fmt: skip


# ---- the batch path ---------------------------------------------------------------------------


class PendingCohort:
    """Executes participant commands on in-memory aggregates instead of the store.

    `take()` hands back the aggregates with pending events, for one save.
    """

    def __init__(self) -> None:
        self.participants: dict[UUID, Participant] = {}

    def take(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.pending_events]

    def execute(self, command: ParticipantCommand, *, recorded_by: str, now: datetime) -> Recorded:
        participant_id = command.participant_id
        if participant_id is None:
            raise ValueError("a generated admission names its participant")
        participant = self.participants.get(participant_id)
        if participant is None:
            if not isinstance(command, Admit):
                raise KeyError(f"participant {participant_id} is not admitted")
            participant = Participant.open(
                command, participant_id, recorded_by=recorded_by, now=now
            )
            self.participants[participant_id] = participant
        else:
            participant.execute(command, recorded_by=recorded_by, now=now)
        return Recorded(participant.id, participant.last_event_id, participant.version, None)


def _chunks(participants: int) -> Iterator[range]:
    for start in range(0, participants, CHUNK_PARTICIPANTS):
        yield range(start, min(participants, start + CHUNK_PARTICIPANTS))


def generate_cohort(
    app: ContinuumApplication,
    *,
    participants: int,
    weeks: int,
    seed: int,
    today: date,
    progress: Progress | None = None,
) -> GenerateResult:
    """Record the cohort through `app`'s batch path; returns counts and the time it took."""
    started = time.perf_counter()
    events = 0
    for chunk in _chunks(participants):
        cohort = PendingCohort()
        steps: list[Step] = []
        for index in chunk:
            steps.extend(plan_participant(seed, index, weeks=weeks, today=today).steps)
        steps.sort(key=lambda s: s.recorded_at)
        receipts: dict[str, Recorded] = {}
        pending = 0
        for step in steps:
            command = step.command(receipts)
            receipt = cohort.execute(command, recorded_by=step.recorded_by, now=step.recorded_at)
            if step.tag is not None:
                receipts[step.tag] = receipt
            pending += 1
            if pending >= SAVE_BATCH_EVENTS:
                events += _save(app, cohort)
                pending = 0
        events += _save(app, cohort)
        if progress is not None:
            progress(chunk.stop, events)
    return GenerateResult(participants, events, time.perf_counter() - started)


def _save(app: ContinuumApplication, cohort: PendingCohort) -> int:
    aggregates = cohort.take()
    if not aggregates:
        return 0
    count = sum(len(a.pending_events) for a in aggregates)
    app.save(*aggregates)
    return count


# ---- the subcommand ---------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add `generate` to the `continuum` parser's subcommands."""
    generate = commands.add_parser(
        "generate", help="record a made-up cohort of N participants (benchmarks, load tests)"
    )
    generate.add_argument("--participants", type=int, required=True, help="how many")
    generate.add_argument("--weeks", type=int, default=12, help="admissions spread over these")
    generate.add_argument("--seed", type=int, default=1, help="same seed, same events")
    generate.add_argument(
        "--today", type=date.fromisoformat, help="journeys end before this day (default today)"
    )
    generate.add_argument(
        "--database-url", help="overrides CONTINUUM_DATABASE_URL (sqlite:///…, postgresql://…)"
    )
    generate.set_defaults(run=generate_command)


def generate_command(args: argparse.Namespace) -> int:
    from eventsourcing.persistence import IntegrityError

    from api.bootstrap import open_service, with_database_url
    from api.cli.parsing import EXIT_REFUSED, CommandFailed
    from api.cli.progress import Progress
    from api.logging import configure_logging
    from api.settings import Settings

    settings = with_database_url(Settings.from_env(), args.database_url)
    configure_logging(json=settings.log_json, level=settings.log_level)
    if args.participants < 1 or args.weeks < 1:
        raise CommandFailed("--participants and --weeks must be at least 1")
    used_seed = CommandFailed(
        f"the store already holds the cohort of --seed {args.seed}: choose another --seed, "
        "or an empty store",
        EXIT_REFUSED,
    )
    with open_service(settings) as service:
        # The same seed gives the same ids: checked before anything is written.
        if service.application.recorder.select_events(
            generated_participant_id(args.seed, 0), limit=1
        ):
            raise used_seed
        bar = Progress("generate", unit="participants")
        try:
            result = generate_cohort(
                service.application,
                participants=args.participants,
                weeks=args.weeks,
                seed=args.seed,
                today=args.today or datetime.now(UTC).date(),
                progress=lambda done, _events: bar(done, args.participants),
            )
        except IntegrityError:  # a later participant of this seed was there already
            raise used_seed from None
        bar.close()
    print(
        f"Generated {result.participants} participants, {result.events} events into "
        f"{service.store.display} in {result.seconds:.1f} s ({result.events_per_s:,.0f} events/s)"
    )
    return 0
