"""The demo cohort: twelve made-up journeys recorded through the application's own commands.

Everything is relative to `today`, so the demo always looks current: the active participants'
records run up to yesterday. Ids come from uuid5, and the few random choices (which session was
missed, how long staff took to enter it) from a fixed seed: the same `today` gives the same
store. Participants have no names anywhere in this system; `recorded_by` holds demo staff ids.

Harbor (`harbor-php`) runs residential (3.5), partial hospitalization (2.5) and a step-down IOP
(2.1); Riverside (`riverside-iop`) is an IOP-only program. Both set no zone of their own, so
their days and weeks are counted in the service's (CONTINUUM_TIMEZONE; the demo runs on
America/Chicago). Times are written in UTC.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import date, time, timedelta
from uuid import UUID, uuid5

from api.seed.journeys import (
    AFTER_SCHOOL,
    EVENING,
    MORNING,
    PHP_DAY,
    RESIDENTIAL,
    Journey,
    Step,
    Track,
    at_time,
    attend_program,
    monday_of,
    reassess_every_28_days,
    screen_weekly,
)
from domain.application import ContinuumApplication
from domain.commands import Recorded
from domain.errors import ParticipantNotFound

DEMO_NAMESPACE = UUID("0c5e7a52-6d0e-4f57-8f1e-2b1d1c8a9e31")
DEMO_SEED = 20260202
HARBOR = "harbor-php"
RIVERSIDE = "riverside-iop"
DEMO_KEYS: tuple[str, ...] = (
    *(f"harbor-{n}" for n in range(1, 6)),
    *(f"riverside-{n}" for n in range(1, 8)),
)


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
    # Interleaved in the order staff would have entered them, as a real log would be.
    run_steps(app, sorted(plan_cohort(today), key=lambda s: s.recorded_at))
    return ids


def run_steps(app: ContinuumApplication, steps: Iterable[Step]) -> None:
    """Execute each step's command, as its staff member, at the moment it was entered."""
    receipts: dict[str, Recorded] = {}
    for step in steps:
        receipt = app.execute(
            step.command(receipts), recorded_by=step.recorded_by, now=step.recorded_at
        )
        if step.tag is not None:
            receipts[step.tag] = receipt


def _exists(app: ContinuumApplication, participant_id: UUID) -> bool:
    try:
        app.peek_participant(participant_id)
    except ParticipantNotFound:
        return False
    return True


# ---- the journeys ----------------------------------------------------------------------------


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
    journeys = {
        key: Journey(key, demo_participant_id(key), random.Random(seeds.random()))
        for key in DEMO_KEYS
    }
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
