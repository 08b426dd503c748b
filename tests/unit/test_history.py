"""History on two time axes: what was known by `known_at`, effective at `as_of` (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TypeVar

from domain.policy import DEFAULT_POLICY, PolicyTimeline
from projections.history import History, known_by, policy_known_at, replay
from tests.unit.journey import Journey, at

# Admitted on a Sunday to 2.1 (adult: 9 structured hours a week), so the week from MONDAY is
# the first full calendar week of the stay.
ADMITTED = at("2026-01-04")
MONDAY = at("2026-01-05")
DEFAULTS = PolicyTimeline(DEFAULT_POLICY)
E = TypeVar("E")


def history(journey: Journey, known_at: datetime, as_of: datetime) -> History:
    return replay(journey.events, known_at=known_at, as_of=as_of, policy=DEFAULTS)


def first_week(h: History) -> tuple[float, str]:
    assert h.compliance is not None
    week = next(w for w in h.compliance.weeks if w.week_start == MONDAY.date())
    return week.structured_hours, week.status


def weekly_hours_findings(h: History) -> list[str]:
    assert h.compliance is not None
    return [
        f.status
        for f in h.compliance.findings
        if f.rule == "weekly_hours" and f.period == MONDAY.date()
    ]


def test_a_session_recorded_a_week_late_changes_the_answer_by_known_at() -> None:
    """Given three 3-hour groups in the first week, the Friday one recorded a week late
    (recorded_at = occurred_at + 7 days), when the week is replayed as of the next Tuesday,
    then known before the late recording it has 6 hours, below the minimum, with a weekly_hours
    finding open; known after it, 9 hours, met, and no finding."""
    journey = Journey(ADMITTED)
    journey.session(MONDAY)
    journey.session(at("2026-01-07"))
    friday = at("2026-01-09")
    journey.session(friday, now=friday + timedelta(days=7))
    as_of = at("2026-01-13")

    before = history(journey, known_at=at("2026-01-12"), as_of=as_of)
    after = history(journey, known_at=friday + timedelta(days=7, hours=1), as_of=as_of)

    assert first_week(before) == (6.0, "below_minimum")
    assert weekly_hours_findings(before) == ["open"]
    assert before.recorded_later == 1
    assert first_week(after) == (9.0, "met")
    assert weekly_hours_findings(after) == []
    assert after.recorded_later == 0
    assert after.stream_version == before.stream_version + 1


def test_a_correction_counts_only_from_when_it_was_recorded() -> None:
    """Given a full first week and, recorded on the 14th, one of its sessions marked entered in
    error, when replayed as of the 13th, then known before the correction the week is met with
    the original entry counted; known after it the week is below minimum and the correction is
    listed (the original entry stays in the stream either way)."""
    journey = Journey(ADMITTED)
    monday_session = journey.session(MONDAY)
    journey.session(at("2026-01-07"))
    journey.session(at("2026-01-09"))
    correction = journey.correct(monday_session, now=at("2026-01-14"))
    as_of = at("2026-01-13")

    before = history(journey, known_at=at("2026-01-13", 23), as_of=as_of)
    after = history(journey, known_at=at("2026-01-14", 10), as_of=as_of)

    assert first_week(before) == (9.0, "met")
    assert before.corrections == ()
    assert first_week(after) == (6.0, "below_minimum")
    assert [(c.event_id, c.corrected_event_id) for c in after.corrections] == [
        (correction, monday_session)
    ]


def test_as_of_gives_the_level_and_status_holding_at_that_instant() -> None:
    """Given a residential admission on the 5th, a step-down to IOP on the 19th and a discharge
    on the 30th, all known, then as of the 12th the participant is active at 3.5 (that stay still
    open then), as of the 20th at 2.1 since the 19th with both stays in the level history, and
    as of the 31st discharged; before the admission, registered."""
    journey = Journey(MONDAY, level="3.5")
    journey.change_level(at("2026-01-19"), "2.1")
    journey.discharge(at("2026-01-30"))
    known = at("2026-02-01")

    residential = history(journey, known_at=known, as_of=at("2026-01-12"))
    iop = history(journey, known_at=known, as_of=at("2026-01-20"))
    discharged = history(journey, known_at=known, as_of=at("2026-01-31"))
    earlier = history(journey, known_at=known, as_of=at("2026-01-01"))

    assert (residential.status, residential.level) == ("active", "3.5")
    assert [(s.level, s.ended_at) for s in residential.level_history] == [("3.5", None)]
    assert (iop.status, iop.level, iop.level_since) == ("active", "2.1", at("2026-01-19"))
    assert [(s.level, s.ended_at) for s in iop.level_history] == [
        ("3.5", at("2026-01-19")),
        ("2.1", None),
    ]
    assert discharged.status == "discharged"
    assert discharged.episode is not None and discharged.episode.discharged_at == at("2026-01-30")
    assert (earlier.status, earlier.level, earlier.level_history) == ("registered", None, ())


def test_known_at_before_the_stream_was_recorded_is_not_recorded() -> None:
    """Given a stream whose first event was recorded on the 4th at 09:00, when replayed with
    known_at on the 3rd, then nothing was recorded yet: status not_recorded, version 0, no
    compliance."""
    journey = Journey(ADMITTED)

    h = history(journey, known_at=at("2026-01-03"), as_of=at("2026-01-06"))

    assert (h.status, h.stream_version, h.compliance) == ("not_recorded", 0, None)
    assert h.recorded_later == len(journey.events)


def test_the_known_cut_is_the_stream_prefix() -> None:
    """Events are cut at the first one recorded after known_at: an event appended after it
    was not in the store yet, whatever its own timestamp says."""
    journey = Journey(ADMITTED)
    journey.session(MONDAY, now=at("2026-01-10"))
    skewed = journey.session(at("2026-01-06"))
    events = [*journey.events[:-1], replace_timestamp(journey.events[-1], at("2026-01-07"))]

    known = known_by(events, at("2026-01-08"))

    assert str(events[-1].event_id) == skewed
    assert len(known) == 2  # Registered, Admitted: the session recorded on the 10th stops it


def test_a_policy_change_recorded_after_known_at_is_left_out() -> None:
    """A policy timeline cut at known_at keeps only the changes recorded by then."""
    lenient = replace(DEFAULT_POLICY, attendance_gap_days=14)
    timeline = DEFAULTS.changed(at("2026-01-10"), lenient)

    assert policy_known_at(timeline, at("2026-01-09")).at(at("2026-01-20")) == DEFAULT_POLICY
    assert policy_known_at(timeline, at("2026-01-10")).at(at("2026-01-20")) == lenient


def replace_timestamp(event: E, timestamp: datetime) -> E:
    """A copy of `event` claiming another recorded time (as a skewed clock would write)."""
    copy = object.__new__(type(event))
    copy.__dict__.update({**vars(event), "timestamp": timestamp})
    return copy
