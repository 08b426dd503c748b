"""The demo cohort: twelve made-up journeys recorded through the application's own commands.

Everything is relative to `today`, so the demo always looks current: the active participants'
records run up to yesterday. Ids come from uuid5, and the few random choices (which session was
missed, how long staff took to enter it) from a fixed seed: the same `today` gives the same
store. Participants have no names anywhere in this system; `recorded_by` holds demo staff ids.

Harbor (`harbor-php`) runs residential (3.5), partial hospitalization (2.5) and a step-down IOP
(2.1); Riverside (`riverside-iop`) is an IOP-only program. Times are UTC, the policy default.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid5

from domain.application import ContinuumApplication, Recorded
from domain.errors import ParticipantNotFound

DEMO_NAMESPACE = UUID("0c5e7a52-6d0e-4f57-8f1e-2b1d1c8a9e31")
DEMO_SEED = 20260202
HARBOR = "harbor-php"
RIVERSIDE = "riverside-iop"
DEMO_KEYS: tuple[str, ...] = (
    *(f"harbor-{n}" for n in range(1, 6)),
    *(f"riverside-{n}" for n in range(1, 8)),
)

PANEL = ("amphetamines", "cocaine", "opiates", "pcp", "thc")  # the common urine 5-panel
GROUP_MODALITIES = ("CBT", "DBT", "MI", "12-step")
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = range(5)


class DemoAlreadyLoaded(Exception):
    """The store already holds demo participants; records are never deleted, so no reload."""


def demo_participant_id(key: str) -> UUID:
    """The fixed id of the demo participant `key` (one of DEMO_KEYS, e.g. "harbor-1")."""
    return uuid5(DEMO_NAMESPACE, f"continuum-demo/{key}")


def load_demo_cohort(app: ContinuumApplication, *, today: date) -> list[UUID]:
    """Record the demo cohort through `app`'s commands; returns the participants' ids.

    Refuses with DemoAlreadyLoaded, before writing anything, if any demo participant exists:
    records are never deleted, so a second load could only duplicate or contradict them.
    """
    ids = [demo_participant_id(key) for key in DEMO_KEYS]
    present = sum(1 for pid in ids if _exists(app, pid))
    if present:
        raise DemoAlreadyLoaded(f"{present} of the {len(ids)} demo participants are recorded")
    receipts: dict[str, Recorded] = {}
    # Interleaved in the order staff would have entered them, as a real log would be.
    for step in sorted(plan_cohort(today), key=lambda s: s.recorded_at):
        receipt = step.run(app, step.recorded_at, receipts)
        if step.tag is not None:
            receipts[step.tag] = receipt
    return ids


def _exists(app: ContinuumApplication, participant_id: UUID) -> bool:
    try:
        app.peek_participant(participant_id)
    except ParticipantNotFound:
        return False
    return True


# ---- one journey as a list of timed commands --------------------------------------------------

# A command takes the application, the moment it is entered (`now`) and earlier tagged receipts.
Command = Callable[[ContinuumApplication, datetime, Mapping[str, Recorded]], Recorded]


@dataclass(frozen=True)
class Step:
    """One command of the demo: when it happened, when staff entered it, and the call."""

    occurred_at: datetime
    recorded_at: datetime
    kind: str  # e.g. "session:group:attended", to find an entry when planning a correction
    run: Command
    tag: str | None = None  # names the receipt for a later correction


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
    rng: random.Random
    steps: list[Step] = field(default_factory=list)

    @property
    def participant_id(self) -> UUID:
        return demo_participant_id(self.key)

    def _add(
        self, at: datetime, minutes_to_enter: int, kind: str, run: Command, tag: str | None = None
    ) -> None:
        recorded = at + timedelta(minutes=minutes_to_enter + self.rng.randint(5, 60))
        self.steps.append(Step(at, recorded, kind, run, tag))

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
        at, pid = at_time(day, time(10)), self.participant_id
        self._add(
            at,
            60,
            "admit",
            lambda app, now, _: app.admit(
                participant_id=pid,
                program_id=program,
                age_group=age_group,
                level=level,
                pathway=pathway,
                admitted_at=at,
                referred_from_level=referred_from,
                criteria_edition=edition,
                recorded_by="intake-fay",
                now=now,
            ),
        )

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
        pid = self.participant_id
        kind = f"session:{service}:{'attended' if attended else 'missed'}"
        self._add(
            at,
            minutes if attended else 30,
            kind,
            lambda app, now, _: app.record_session(
                pid,
                service=service,
                started_at=at,
                duration_minutes=minutes,
                attended=attended,
                modality=modality,
                track=track,
                recorded_by=by,
                now=now,
            ),
            tag,
        )

    def screen(
        self,
        at: datetime,
        *,
        positive: Iterable[str] = (),
        prescribed: Sequence[str] = (),
        status: str = "valid",
    ) -> None:
        pid, positives = self.participant_id, set(positive)
        results = (
            {}
            if status != "valid"
            else {s: "positive" if s in positives else "negative" for s in (*PANEL, *prescribed)}
        )
        self._add(
            at,
            20,
            f"screening:{status}",
            lambda app, now, _: app.record_screening(
                pid,
                collected_at=at,
                specimen="urine",
                status=status,
                results=results,
                prescribed=prescribed,
                recorded_by="lab-eli",
                now=now,
            ),
        )

    def reassess(
        self, at: datetime, ratings: Sequence[int], recommended: str, decided: str, why: str
    ) -> None:
        pid = self.participant_id
        dimensions = {f"d{i}": rating for i, rating in enumerate(ratings, start=1)}
        self._add(
            at,
            45,
            "reassessment",
            lambda app, now, _: app.reassess(
                pid,
                assessed_at=at,
                dimensions=dimensions,
                recommended_level=recommended,
                decided_level=decided,
                rationale=why,
                recorded_by="clin-ana",
                now=now,
            ),
        )

    def change_level(self, day: date, to_level: str, reason: str) -> None:
        at, pid = at_time(day, time(9)), self.participant_id
        self._add(
            at,
            30,
            "level_change",
            lambda app, now, _: app.change_level(
                pid,
                to_level=to_level,
                effective_at=at,
                reason=reason,
                recorded_by="clin-ana",
                now=now,
            ),
        )

    def discharge(self, day: date, reason: str, to_level: str | None = None) -> None:
        at, pid = at_time(day, time(16)), self.participant_id
        self._add(
            at,
            30,
            "discharge",
            lambda app, now, _: app.discharge(
                pid,
                discharged_at=at,
                reason=reason,
                to_level=to_level,
                recorded_by="clin-ana",
                now=now,
            ),
        )

    def correct(self, tag: str, reason: str, *, after: timedelta) -> None:
        """Mark the entry tagged `tag` entered-in-error, `after` it was first entered."""
        pid = self.participant_id
        entered = next(s.recorded_at for s in self.steps if s.tag == tag)
        self.steps.append(
            Step(
                entered + after,
                entered + after,
                "correction",
                lambda app, now, receipts: app.correct_entry(
                    pid,
                    event_id=receipts[tag].event_id,
                    reason=reason,
                    recorded_by="clin-ana",
                    now=now,
                ),
            )
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


def residential_then_iop(
    j: Journey,
    admitted: date,
    residential_days: int,
    last: date,
    *,
    track: Track = EVENING,
    prescribed: Sequence[str] = (),
) -> None:
    """Harbor 3.5 for about four weeks, reassessed, stepped down to its IOP (2.1)."""
    step_day = admitted + timedelta(days=residential_days)
    in_residence = (admitted + timedelta(days=1), step_day - timedelta(days=1))
    j.admit(admitted, HARBOR, "3.5", "primary")
    attend_program(j, *in_residence, RESIDENTIAL, miss_rate=0.0, case_management=False)
    screen_weekly(j, *in_residence, prescribed=prescribed)
    j.reassess(
        at_time(step_day - timedelta(days=2), time(15)),
        (0, 1, 2, 2, 2, 1),
        "2.1",
        "2.1",
        "Withdrawal complete, stable housing; ready for IOP with weekly individual work.",
    )
    j.change_level(step_day, "2.1", "Residential goals met; step down to intensive outpatient.")
    attend_program(j, step_day, last, track, family_every_weeks=2)
    screen_weekly(
        j, step_day + timedelta(days=1), last, hour=track.start.hour - 1, prescribed=prescribed
    )
    reassess_every_28_days(j, step_day, last, "2.1", (0, 1, 2, 1, 2, 1))


# ---- the cohort -------------------------------------------------------------------------------


def plan_cohort(today: date) -> list[Step]:
    """Every step of the twelve journeys, each planned up to yesterday (or its discharge)."""
    seeds = random.Random(DEMO_SEED)
    journeys = {key: Journey(key, random.Random(seeds.random())) for key in DEMO_KEYS}
    yesterday = today - timedelta(days=1)

    def ago(n: int) -> date:
        return today - timedelta(days=n)

    # Residential 29 days, then the evening IOP with fortnightly family sessions.
    residential_then_iop(journeys["harbor-1"], ago(84), 29, yesterday)

    # Residential 28 days on buprenorphine: every screen is positive for it, as prescribed.
    residential_then_iop(
        journeys["harbor-2"], ago(45), 28, yesterday, track=MORNING, prescribed=("buprenorphine",)
    )

    # PHP (2.5) for four weeks, reassessed, stepped down to 2.1 in the same program.
    j, admitted = journeys["harbor-3"], ago(70)
    step_day = admitted + timedelta(days=28)
    j.admit(admitted, HARBOR, "2.5", "primary")
    attend_program(j, admitted + timedelta(days=1), step_day - timedelta(days=1), PHP_DAY)
    screen_weekly(j, admitted + timedelta(days=1), step_day - timedelta(days=1))
    j.reassess(
        at_time(step_day - timedelta(days=3), time(15)),
        (0, 0, 2, 1, 2, 1),
        "2.1",
        "2.1",
        "Mood stable on current treatment; fewer structured hours are enough now.",
    )
    j.change_level(step_day, "2.1", "PHP goals met; step down to intensive outpatient.")
    attend_program(j, step_day, yesterday, MORNING)
    screen_weekly(j, step_day + timedelta(days=1), yesterday)
    reassess_every_28_days(j, step_day, yesterday, "2.1", (0, 0, 2, 1, 2, 1))

    # Admitted to PHP on stepping down from a 3.7 stay elsewhere; still at 2.5.
    j = journeys["harbor-4"]
    j.admit(ago(19), HARBOR, "2.5", "step_down", referred_from="3.7")
    attend_program(j, ago(18), yesterday, PHP_DAY)
    screen_weekly(j, ago(18), yesterday)

    # Residential 30 days, then IOP; reviewed before a planned, completed discharge.
    j, discharged = journeys["harbor-5"], ago(11)
    residential_then_iop(j, ago(112), 30, discharged - timedelta(days=1), track=MORNING)
    j.reassess(
        at_time(discharged - timedelta(days=3), time(15)),
        (0, 0, 1, 1, 1, 1),
        "1",
        "1",
        "Treatment goals met; continue in weekly outpatient aftercare.",
    )
    j.discharge(discharged, "completed", to_level="1")

    # Primary IOP admission, morning track; one group session was entered twice.
    j = journeys["riverside-1"]
    j.admit(ago(63), RIVERSIDE, "2.1", "primary")
    attend_program(j, ago(62), yesterday, MORNING, by="clin-ben")
    screen_weekly(j, ago(62), yesterday)
    reassess_every_28_days(j, ago(63), yesterday, "2.1", (0, 1, 2, 2, 2, 2))
    original = next(
        s for s in j.steps if s.occurred_at.date() >= ago(40) and s.kind == "session:group:attended"
    )
    j.session(
        original.occurred_at,
        "group",
        180,
        modality="CBT",
        track="morning",
        by="clin-ben",
        tag="riverside-1/duplicate",
    )
    j.correct(
        "riverside-1/duplicate",
        "Entered in error: duplicate of the group session already recorded that day.",
        after=timedelta(days=1),
    )

    # An adolescent at 2.1 after school, with weekly family sessions.
    j = journeys["riverside-2"]
    j.admit(ago(49), RIVERSIDE, "2.1", "primary", age_group="adolescent")
    attend_program(j, ago(48), yesterday, AFTER_SCHOOL, family_every_weeks=1, by="clin-ben")
    screen_weekly(j, ago(48), yesterday, hour=15)
    reassess_every_28_days(j, ago(49), yesterday, "2.1", (0, 0, 2, 3, 2, 2))

    # Attends for four weeks, misses more and more, stops; discharged as dropped out.
    j, admitted = journeys["riverside-3"], ago(75)
    stopped, discharged = admitted + timedelta(days=35), ago(25)
    j.admit(admitted, RIVERSIDE, "2.1", "primary")
    attend_program(
        j,
        admitted + timedelta(days=1),
        admitted + timedelta(days=27),
        EVENING,
        miss_rate=0.1,
        by="clin-chen",
    )
    attend_program(
        j,
        admitted + timedelta(days=28),
        stopped - timedelta(days=1),
        EVENING,
        miss_rate=0.5,
        by="clin-chen",
    )
    attend_program(
        j,
        stopped,
        discharged - timedelta(days=1),
        EVENING,
        miss_rate=1.0,
        individual_every_weeks=None,
        case_management=False,
        by="clin-chen",
    )
    screen_weekly(j, admitted + timedelta(days=1), stopped - timedelta(days=1), hour=17)
    j.screen(at_time(monday_of(stopped + timedelta(days=7)), time(17)), status="missed")
    reassess_every_28_days(j, admitted, stopped, "2.1", (0, 1, 2, 3, 3, 3))
    j.discharge(discharged, "dropped_out")

    # Evening track, individual therapy fortnightly, one dilute specimen.
    j = journeys["riverside-4"]
    j.admit(ago(35), RIVERSIDE, "2.1", "primary")
    attend_program(
        j, ago(34), yesterday, EVENING, individual_every_weeks=2, miss_rate=0.1, by="clin-chen"
    )
    screen_weekly(j, ago(34), yesterday, hour=17, dilute_on=monday_of(ago(14)))
    reassess_every_28_days(j, ago(35), yesterday, "2.1", (0, 1, 1, 2, 2, 2))

    # Admitted three weeks ago, assessed with the 4th edition criteria.
    j = journeys["riverside-5"]
    j.admit(ago(21), RIVERSIDE, "2.1", "primary", edition="4")
    attend_program(j, ago(20), yesterday, MORNING, by="clin-ben")
    screen_weekly(j, ago(20), yesterday)

    # Admitted stepping down from residential elsewhere; the cohort's one unexpected positive
    # (cocaine), and the reassessment it calls for three days later.
    j, lapse = journeys["riverside-6"], monday_of(ago(28))
    j.admit(ago(56), RIVERSIDE, "2.1", "step_down", referred_from="3.5")
    attend_program(j, ago(55), yesterday, MORNING, by="clin-ben")
    screen_weekly(j, ago(55), yesterday, unexpected={lapse: "cocaine"})
    j.reassess(
        at_time(lapse + timedelta(days=3), time(15)),
        (1, 1, 2, 3, 3, 2),
        "2.1",
        "2.1",
        "Single lapse after a family stressor; stays at IOP with added individual "
        "sessions and relapse-prevention work.",
    )
    reassess_every_28_days(j, ago(56), yesterday, "2.1", (0, 1, 2, 2, 2, 2))

    # Fourteen weeks in, individual therapy fortnightly; the 16-week mark is coming up.
    j = journeys["riverside-7"]
    j.admit(ago(98), RIVERSIDE, "2.1", "primary")
    attend_program(j, ago(97), yesterday, EVENING, individual_every_weeks=2, by="clin-chen")
    screen_weekly(j, ago(97), yesterday, hour=17)
    reassess_every_28_days(j, ago(98), yesterday, "2.1", (0, 0, 1, 1, 2, 1))

    return [step for journey in journeys.values() for step in journey.steps]
