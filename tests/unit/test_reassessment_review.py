"""Reassessment review: each decision beside the record as it stood, flagged against the public
IOP decision boundaries of the program's policy (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from domain.policy import DEFAULT_POLICY, PolicyTimeline
from projections.reassessment_review import (
    BASIS,
    DECIDED_DIFFERS,
    IOP_LIKELY_INSUFFICIENT,
    ReassessmentReview,
    review,
)
from tests.unit.journey import Journey, at

DEFAULTS = PolicyTimeline(DEFAULT_POLICY)
CALM = {"d1": 0, "d2": 0, "d3": 1, "d4": 2, "d5": 2, "d6": 1}


def reassess(
    journey: Journey,
    assessed_at: datetime,
    *,
    dimensions: dict[str, int] | None = None,
    recommended: str = "2.1",
    decided: str = "2.1",
    rationale: str = "",
    now: datetime | None = None,
) -> str:
    return journey.reassess(
        assessed_at,
        dimensions=dimensions or CALM,
        recommended_level=recommended,
        decided_level=decided,
        rationale=rationale,
        now=now,
    )


def flags(r: ReassessmentReview) -> dict[str, bool]:
    """Each flag raised, with whether a rationale was given."""
    return {f.flag: f.rationale_given for f in r.flags}


def reason_kinds(r: ReassessmentReview, flag: str) -> list[str]:
    return [reason.kind for f in r.flags if f.flag == flag for reason in f.reasons]


def test_a_step_down_from_residential_to_iop_with_d6_at_3_and_no_rationale_is_flagged() -> None:
    """Given four weeks at 3.5 with groups and a negative screen, when a reassessment rates
    dimension 6 at 3 and decides IOP (2.1, as recommended) with no rationale, then the review
    shows the state before (3.5 for 28 days, the hours of the last 4 weeks, the screen), the
    decision as a step-down, and flags iop_likely_insufficient (d6 at its threshold of 3),
    rationale not given."""
    journey = Journey(at("2026-01-05"), level="3.5")
    for day in range(1, 28, 7):
        journey.session(at("2026-01-05") + timedelta(days=day), minutes=120)
    screen = journey.screen(at("2026-01-20"))
    decision = reassess(
        journey,
        at("2026-02-02"),
        dimensions={**CALM, "d6": 3},
        recommended="2.1",
        decided="2.1",
        rationale="  ",
    )
    journey.change_level(at("2026-02-02", 10), "2.1")

    [r] = review(journey.events, DEFAULTS)

    assert r.event_id == decision
    assert (r.before.level, r.before.days_at_level, r.before.weeks_at_level) == ("3.5", 28, 4.0)
    assert r.before.structured_hours == 8.0
    assert [(s.event_id, s.outcome) for s in r.before.screens_since_previous_review] == [
        (screen, "negative")
    ]
    assert r.decision == "step_down"
    assert not r.rationale_given
    assert flags(r) == {IOP_LIKELY_INSUFFICIENT: False}
    [reason] = next(f for f in r.flags if f.flag == IOP_LIKELY_INSUFFICIENT).reasons
    assert (reason.kind, reason.dimension, reason.rating, reason.threshold) == (
        "rating",
        "d6",
        3,
        3,
    )
    assert "ASAM" in BASIS and "not" in BASIS


def test_a_decision_other_than_the_recommendation_is_flagged_with_its_rationale() -> None:
    """Given a participant at IOP, when a reassessment recommends 2.5 but decides 2.1 with a
    rationale and calm ratings, then only decided_differs_from_recommended is raised, marked
    rationale given; the decision is to continue at the level."""
    journey = Journey(at("2026-01-05"))
    reassess(
        journey,
        at("2026-02-02"),
        recommended="2.5",
        decided="2.1",
        rationale="Family support at home; PHP unavailable on the evening track.",
    )

    [r] = review(journey.events, DEFAULTS)

    assert flags(r) == {DECIDED_DIFFERS: True}
    assert r.decision == "continue"
    assert r.rationale_given


def test_a_rationale_does_not_clear_the_iop_flag() -> None:
    """A rating at the threshold with IOP chosen is flagged even with a rationale; the flag is
    then marked rationale_given."""
    journey = Journey(at("2026-01-05"))
    reassess(journey, at("2026-01-20"), dimensions={**CALM, "d1": 3}, rationale="Detox done.")

    [r] = review(journey.events, DEFAULTS)

    assert flags(r) == {IOP_LIKELY_INSUFFICIENT: True}


def test_a_prior_iop_dropout_flags_choosing_iop_again() -> None:
    """Given an earlier episode at 2.1 discharged as dropped out, when the readmitted
    participant is reassessed with calm ratings and IOP decided, then iop_likely_insufficient
    is raised for the prior dropout, naming the discharge."""
    journey = Journey(at("2026-01-05"))
    dropout = journey.discharge(at("2026-01-20"), reason="dropped_out")
    journey.readmit(at("2026-03-02"))
    reassess(journey, at("2026-03-09"))

    [r] = review(journey.events, DEFAULTS)

    assert reason_kinds(r, IOP_LIKELY_INSUFFICIENT) == ["prior_iop_dropout"]
    assert r.flags[0].reasons[0].event_id == dropout
    assert r.before.episode == 2


def test_an_unexpected_positive_while_at_iop_flags_staying_at_iop() -> None:
    """Given an unexpected positive screen during the stay at 2.1, when the reassessment keeps
    the participant at IOP, then iop_likely_insufficient is raised for the relapse; the screen
    is listed with its outcome, and its follow-up finding is open before the reassessment."""
    journey = Journey(at("2026-01-05"))
    positive = journey.screen(at("2026-01-12"), results={"cocaine": "positive"})
    reassess(journey, at("2026-01-14"))

    [r] = review(journey.events, DEFAULTS)

    assert reason_kinds(r, IOP_LIKELY_INSUFFICIENT) == ["relapse_during_iop"]
    assert [(s.event_id, s.outcome) for s in r.before.screens_since_previous_review] == [
        (positive, "unexpected_positive")
    ]
    assert "positive_screen_followup" in [f.rule for f in r.before.open_findings]


def test_the_state_before_uses_only_events_recorded_before_the_reassessment() -> None:
    """Given a session that occurred before a reassessment but was recorded after it, and a
    later correction of an earlier session, then the review's hours count neither the late
    session nor the correction: the clinician knew the record without them. The review marks
    the reassessment corrected when it is itself later marked in error."""
    journey = Journey(at("2026-01-05"))
    early = journey.session(at("2026-01-06"))
    decision = reassess(journey, at("2026-01-09"), now=at("2026-01-09", 12))
    journey.session(at("2026-01-08"), now=at("2026-01-10"))
    journey.correct(early, now=at("2026-01-11"))
    journey.correct(decision, now=at("2026-01-12"))

    [r] = review(journey.events, DEFAULTS)

    assert r.before.structured_hours == 3.0
    assert r.corrected_by is not None


def test_the_thresholds_come_from_the_program_policy() -> None:
    """A program that raises the d6 threshold to 4 (in force before the reassessment) gets no
    flag for a d6 of 3; its thresholds as recorded after the reassessment do not apply."""
    journey = Journey(at("2026-01-05"))
    reassess(journey, at("2026-01-20"), dimensions={**CALM, "d6": 3})
    stricter = replace(DEFAULT_POLICY, iop_insufficient_ratings=(("d6", 4),))

    before = DEFAULTS.changed(at("2026-01-06"), stricter)
    after = DEFAULTS.changed(at("2026-01-25"), stricter)

    assert review(journey.events, before)[0].flags == ()
    assert flags(review(journey.events, after)[0]) == {IOP_LIKELY_INSUFFICIENT: False}


def test_review_serialises_to_plain_values() -> None:
    """to_dict() gives JSON values: ratings, levels, the state before and the flags."""
    journey = Journey(at("2026-01-05"))
    reassess(journey, at("2026-01-20"), dimensions={**CALM, "d3": 4}, recommended="2.5")

    data = review(journey.events, DEFAULTS)[0].to_dict()

    assert data["dimensions"]["d3"] == 4
    assert (data["recommended_level"], data["decided_level"]) == ("2.5", "2.1")
    assert data["before"]["level"] == "2.1"
    assert [f["flag"] for f in data["flags"]] == [IOP_LIKELY_INSUFFICIENT, DECIDED_DIFFERS]
    assert data["rationale_given"] is False and data["corrected"] is False
