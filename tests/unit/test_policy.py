"""Program policy: DOMAIN.md's defaults, validation, and the policy in force at a moment."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from domain.errors import InvalidValue
from domain.policy import DEFAULT_POLICY, PolicyTimeline, ProgramPolicy


def test_minimum_weekly_hours_follow_domain_defaults() -> None:
    """Level 2.1 needs 9 h for adults and 6 h for adolescents, 2.5 needs 20 h; other levels
    have no weekly minimum."""
    policy = ProgramPolicy()

    assert policy.required_hours("2.1", "adult") == 9
    assert policy.required_hours("2.1", "adolescent") == 6
    assert policy.required_hours("2.5", "adult") == 20
    assert policy.required_hours("2.5", "adolescent") == 20
    for level in ("0.5", "1", "1.5", "2.7", "3.1", "3.5", "3.7", "4"):
        assert policy.required_hours(level, "adult") is None


def test_structured_services_leave_out_case_management_by_default() -> None:
    """Group, psychoeducation, individual and family count as structured hours; case
    management does not unless the policy says so."""
    policy = ProgramPolicy()

    for service in ("group", "psychoeducation", "individual", "family"):
        assert policy.counts_as_structured(service)
    assert not policy.counts_as_structured("case_management")


def test_cadence_defaults_follow_domain_rules() -> None:
    """Taper 2 weeks; individual therapy 14 days; reassessment 30 days at 2.x; attendance
    gap 7 days; positive screen follow-up 7 days; length of stay 16 weeks with a reassessment
    in the last 30 days; discharge summary 15 days; recertification off."""
    policy = ProgramPolicy()

    assert policy.taper_weeks == 2
    assert policy.individual_therapy_days == 14
    assert policy.reassessment_days == 30
    assert policy.needs_periodic_reassessment("2.1")
    assert policy.needs_periodic_reassessment("2.5")
    assert not policy.needs_periodic_reassessment("3.5")
    assert policy.attendance_gap_days == 7
    assert policy.positive_screen_followup_days == 7
    assert (policy.length_of_stay_weeks, policy.length_of_stay_reassessment_days) == (16, 30)
    assert policy.discharge_summary_days == 15
    assert policy.recertification_days is None


def test_screening_interval_is_7_days_in_the_first_90_then_30() -> None:
    """A screen on days 0-89 of the stay is next due in 7 days; from day 90 in 30."""
    policy = ProgramPolicy()

    assert policy.screening_interval_days(0) == 7
    assert policy.screening_interval_days(89) == 7
    assert policy.screening_interval_days(90) == 30


def test_policy_round_trips_through_plain_values() -> None:
    """to_dict() gives JSON values (fit for a future PolicyChanged event) that from_dict()
    reads back to an equal policy; left-out settings keep their defaults."""
    changed = replace(
        DEFAULT_POLICY,
        structured_services=frozenset({"group", "case_management"}),
        taper_weeks=3,
    )

    assert ProgramPolicy.from_dict(changed.to_dict()) == changed
    assert ProgramPolicy.from_dict({"taper_weeks": 1}) == replace(DEFAULT_POLICY, taper_weeks=1)


def test_invalid_settings_are_refused() -> None:
    """An unknown setting or a negative number of days is an InvalidValue naming the field."""
    with pytest.raises(InvalidValue) as unknown:
        ProgramPolicy.from_dict({"taper_days": 3})
    assert unknown.value.field == "taper_days"
    with pytest.raises(InvalidValue) as negative:
        ProgramPolicy(attendance_gap_days=-1)
    assert negative.value.field == "attendance_gap_days"


def test_a_policy_change_applies_from_its_effective_moment_on() -> None:
    """Given a timeline changed at 02-09 00:00, then a moment before gets the initial policy
    and the change's own moment and after get the new one."""
    change = datetime(2026, 2, 9, tzinfo=UTC)
    stricter = replace(DEFAULT_POLICY, attendance_gap_days=5)
    timeline = PolicyTimeline().changed(change, stricter)

    assert timeline.at(datetime(2026, 2, 8, 23, 59, tzinfo=UTC)) == DEFAULT_POLICY
    assert timeline.at(change) == stricter
    assert timeline.at(datetime(2027, 1, 1, tzinfo=UTC)) == stricter
    assert PolicyTimeline.of(stricter).at(change) == stricter


def test_policy_changes_must_stay_in_effective_order() -> None:
    """A change effective before the timeline's last change is refused, so a replay cannot
    reorder history."""
    timeline = PolicyTimeline().changed(datetime(2026, 2, 9, tzinfo=UTC), DEFAULT_POLICY)

    with pytest.raises(InvalidValue):
        timeline.changed(datetime(2026, 2, 1, tzinfo=UTC), DEFAULT_POLICY)
