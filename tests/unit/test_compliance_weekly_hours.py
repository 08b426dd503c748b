"""Compliance: weekly structured hours per level of care, taper weeks and policy changes
(default program policy)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from domain.policy import DEFAULT_POLICY, MinimumHours, PolicyTimeline
from tests.unit.compliance_report import MON, WED_BEFORE, day, findings, report, week
from tests.unit.journey import Journey, at

# ---- weekly structured hours --------------------------------------------------------------


def test_adult_iop_with_two_three_hour_groups_is_below_minimum() -> None:
    """Given an adult at 2.1 for the whole week of 02-02 with two 3-hour groups,
    when the week is over, then it is below_minimum (6 < 9) and a weekly_hours finding is open."""
    journey = Journey(at(WED_BEFORE), level="2.1", age_group="adult")
    first = journey.session(at(day(0)))
    second = journey.session(at(day(2)))

    result = report(journey, as_of=day(7))

    row = week(result, MON)
    assert (row.level, row.structured_hours, row.required_hours) == ("2.1", 6.0, 9)
    assert row.status == "below_minimum"
    [finding] = findings(result, "weekly_hours")
    assert (finding.status, finding.period, finding.due) == ("open", MON, None)
    assert {first, second} <= set(finding.evidence)


def test_adolescent_iop_with_the_same_week_meets_the_minimum() -> None:
    """Given an adolescent at 2.1 with two 3-hour groups in a full week,
    then the week is met (6 >= 6) and no weekly_hours finding exists."""
    journey = Journey(at(WED_BEFORE), level="2.1", age_group="adolescent")
    journey.session(at(day(0)))
    journey.session(at(day(2)))

    result = report(journey, as_of=day(7))

    assert week(result, MON).status == "met"
    assert week(result, MON).required_hours == 6
    assert findings(result, "weekly_hours") == []


def test_php_needs_twenty_hours() -> None:
    """Given adults at 2.5 (PHP), when one has five 4-hour groups and another four,
    then 20 hours is met and 16 hours is below_minimum."""
    enough = Journey(at(WED_BEFORE), level="2.5")
    short = Journey(at(WED_BEFORE), level="2.5")
    for offset in range(5):
        enough.session(at(day(offset)), minutes=240)
        if offset < 4:
            short.session(at(day(offset)), minutes=240)

    assert week(report(enough, day(7)), MON).status == "met"
    short_week = week(report(short, day(7)), MON)
    assert (short_week.required_hours, short_week.structured_hours) == (20, 16.0)
    assert short_week.status == "below_minimum"


def test_case_management_counts_only_when_the_policy_says_so() -> None:
    """Given an adult at 2.1 with 6 hours of groups and 3 of case management in a full week,
    then the week is below_minimum by default and met under a policy that counts case
    management."""
    journey = Journey(at(WED_BEFORE))
    journey.session(at(day(0)))
    journey.session(at(day(2)))
    journey.session(at(day(3)), service="case_management")
    counting = replace(
        DEFAULT_POLICY,
        structured_services=DEFAULT_POLICY.structured_services | {"case_management"},
    )

    assert week(report(journey, day(7)), MON).status == "below_minimum"
    assert week(report(journey, day(7), counting), MON).status == "met"


def test_missed_sessions_and_levels_without_a_minimum_count_nothing() -> None:
    """Given an adult at 2.1 who missed a 3-hour group, then it adds no hours; and given a
    participant at 3.5 (residential), then no week rows are reported at all."""
    journey = Journey(at(WED_BEFORE))
    journey.session(at(day(0)), attended=False)
    residential = Journey(at(WED_BEFORE), level="3.5")

    assert week(report(journey, day(7)), MON).structured_hours == 0
    assert report(residential, day(7)).weeks == ()


def test_week_split_by_a_step_down_is_partial_for_both_levels() -> None:
    """Given an adult at 2.5 who steps down to 2.1 on Wednesday 02-04,
    then the week of 02-02 has a partial_week row for 2.5 and one for 2.1."""
    journey = Journey(at(WED_BEFORE), level="2.5")
    journey.session(at(day(0)), minutes=240)
    journey.change_level(at(day(2), 12), "2.1")
    journey.session(at(day(3)))

    result = report(journey, day(7))

    php, iop = week(result, MON, "2.5"), week(result, MON, "2.1")
    assert (php.status, php.structured_hours) == ("partial_week", 4.0)
    assert (iop.status, iop.structured_hours) == ("partial_week", 3.0)
    assert findings(result, "weekly_hours") == []


def test_the_current_week_is_in_progress_until_its_sunday_is_over() -> None:
    """Given an adult at 2.1 on Wednesday of a week with 6 hours so far, then the week is
    in_progress (not judged yet), still in_progress with 9 hours, and met once as of Sunday
    (the end of that local day) with those 9 hours."""
    journey = Journey(at(WED_BEFORE))
    journey.session(at(day(0)))
    journey.session(at(day(1)))

    assert week(report(journey, day(2)), MON).status == "in_progress"
    journey.session(at(day(2)))
    assert week(report(journey, day(2)), MON).status == "in_progress"
    assert week(report(journey, day(6)), MON).status == "met"
    assert findings(report(journey, day(2)), "weekly_hours") == []


def test_the_weeks_after_a_step_down_into_iop_are_judged_normally() -> None:
    """Given an adult stepped down from 3.5 (residential) to 2.1 on 02-04 with 6 hours in each
    of the next two full weeks and no reassessment, then both weeks are below_minimum with
    open weekly_hours findings: the weeks after entering a level are never a taper."""
    journey = Journey(at(WED_BEFORE), level="3.5")
    journey.change_level(at(day(2)), "2.1")
    for monday in (day(7), day(14)):
        journey.session(at(monday))
        journey.session(at(monday + timedelta(days=2)))

    result = report(journey, day(21))

    assert [week(result, m, "2.1").status for m in (day(7), day(14))] == ["below_minimum"] * 2
    weekly = findings(result, "weekly_hours")
    assert [(f.period, f.status) for f in weekly] == [(day(7), "open"), (day(14), "open")]


def test_a_decision_to_move_down_allows_two_taper_weeks_then_the_minimum_applies() -> None:
    """Given an adult at 2.1 reassessed on 02-04 with level 1 decided, with 6 hours in each of
    the next three full weeks before the move, then the first two are taper (no finding) and
    the third is below_minimum."""
    journey = Journey(at(WED_BEFORE))
    journey.reassess(at(day(2)), decided_level="1")
    for monday in (day(7), day(14), day(21)):
        journey.session(at(monday))
        journey.session(at(monday + timedelta(days=2)))

    result = report(journey, day(28))

    statuses = [week(result, m).status for m in (day(7), day(14), day(21))]
    assert statuses == ["taper", "taper", "below_minimum"]
    # The week of the decision itself (0 hours, before any taper) is below_minimum too.
    assert [f.period for f in findings(result, "weekly_hours")] == [MON, day(21)]


def test_a_later_decision_to_stay_or_a_correction_cancels_the_taper() -> None:
    """Given a reassessment deciding level 1, then a later one deciding to stay at 2.1 before
    the week began, the week is below_minimum; so is it when the deciding reassessment is
    marked entered-in-error."""
    stays = Journey(at(WED_BEFORE))
    stays.reassess(at(day(-5)), decided_level="1")
    stays.reassess(at(day(-4)), decided_level="2.1")
    corrected = Journey(at(WED_BEFORE))
    wrong = corrected.reassess(at(day(-5)), decided_level="1")
    corrected.correct(wrong, now=at(day(8)))
    for journey in (stays, corrected):
        journey.session(at(day(0)))

    assert week(report(stays, day(7)), MON).status == "below_minimum"
    assert week(report(corrected, day(8)), MON).status == "below_minimum"


def test_no_taper_without_a_step_down() -> None:
    """Given adults admitted at 2.1 on the primary pathway, or stepped up from 1 to 2.1,
    with 3 hours in the following full week, then that week is below_minimum, not taper."""
    primary = Journey(at(WED_BEFORE))
    primary.session(at(day(0)))
    stepped_up = Journey(at(date(2026, 1, 20)), level="1")
    stepped_up.change_level(at(WED_BEFORE), "2.1")
    stepped_up.session(at(day(0)))

    assert week(report(primary, day(7)), MON).status == "below_minimum"
    assert week(report(stepped_up, day(7)), MON).status == "below_minimum"


def test_a_corrected_session_no_longer_counts_toward_its_week() -> None:
    """Given an adult at 2.1 with three 3-hour groups in a full week (met), when one of them
    is marked entered-in-error a week later, then the week has 6 hours and is below_minimum."""
    journey = Journey(at(WED_BEFORE))
    journey.session(at(day(0)))
    wrong = journey.session(at(day(2)))
    journey.session(at(day(4)))
    assert week(report(journey, day(7)), MON).status == "met"

    journey.correct(wrong, now=at(day(9)))

    row = week(report(journey, day(10)), MON)
    assert (row.structured_hours, row.status) == (6.0, "below_minimum")
    assert wrong not in row.evidence


def test_a_late_entry_counts_in_the_week_it_happened() -> None:
    """Given a week below minimum, when a 3-hour group held in that week is recorded later,
    then the week is met."""
    journey = Journey(at(WED_BEFORE))
    journey.session(at(day(0)))
    journey.session(at(day(2)))
    journey.session(at(day(4)), now=at(day(10)))

    assert week(report(journey, day(11)), MON).status == "met"


def test_a_policy_change_applies_from_its_effective_moment() -> None:
    """Given the adult 2.1 minimum lowered from 9 to 6 hours effective Monday 02-09,
    when two weeks each have 6 hours, then the week before is below_minimum, the week after met."""
    journey = Journey(at(WED_BEFORE))
    for offset in (0, 2, 7, 9):
        journey.session(at(day(offset)))
    lowered = replace(
        DEFAULT_POLICY,
        minimum_hours=(MinimumHours("2.1", "adult", 6), MinimumHours("2.5", "adult", 20)),
    )
    timeline = PolicyTimeline().changed(at(day(7), 0), lowered)

    result = report(journey, day(14), timeline)

    assert week(result, MON).status == "below_minimum"
    assert (week(result, day(7)).status, week(result, day(7)).required_hours) == ("met", 6)
