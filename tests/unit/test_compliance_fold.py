"""Compliance fold and evaluation, from DOMAIN.md's rule table (default program policy)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

from domain.policy import DEFAULT_POLICY, MinimumHours, PolicyTimeline, ProgramPolicy
from projections import compliance
from projections.compliance import ComplianceReport, ComplianceState, Finding, WeekRow
from tests.unit.journey import Journey, at

# 2026-02-02 is a Monday; admissions on the Wednesday before leave the week of 02-02 whole.
MON = date(2026, 2, 2)
WED_BEFORE = date(2026, 1, 28)


def report(
    journey: Journey, as_of: date, policy: ProgramPolicy | PolicyTimeline = DEFAULT_POLICY
) -> ComplianceReport:
    state = compliance.fold(journey.events)
    assert state is not None
    return compliance.evaluate(state, as_of, policy)


def week(result: ComplianceReport, monday: date, level: str | None = None) -> WeekRow:
    rows = [w for w in result.weeks if w.week_start == monday and level in (None, w.level)]
    assert len(rows) == 1, rows
    return rows[0]


def findings(result: ComplianceReport, rule: str) -> list[Finding]:
    return [f for f in result.findings if f.rule == rule]


def day(offset: int, start: date = MON) -> date:
    return start + timedelta(days=offset)


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


# ---- positive screens -----------------------------------------------------------------------


def test_unexpected_positive_opens_a_followup_that_a_reassessment_within_7_days_resolves() -> None:
    """Given an unexpected positive screen on 02-02, then a positive_screen_followup finding
    is open at once with due 02-09; when a reassessment follows on 02-06, it is resolved."""
    journey = Journey(at(WED_BEFORE))
    positive = journey.screen(at(day(0)), results={"cocaine": "positive", "opioids": "negative"})

    [pending] = findings(report(journey, day(1)), "positive_screen_followup")
    assert (pending.status, pending.due, pending.overdue) == ("open", day(7), False)

    reassessment = journey.reassess(at(day(4)))
    [done] = findings(report(journey, day(10)), "positive_screen_followup")
    assert (done.status, done.resolved_on, done.overdue) == ("resolved", day(4), False)
    assert done.evidence == (positive, reassessment)


def test_unexpected_positive_without_reassessment_stays_open_and_becomes_overdue() -> None:
    """Given an unexpected positive screen on 02-02 and no reassessment, when judged on 02-10,
    then the follow-up finding is open and overdue; a reassessment on 02-12 resolves it late."""
    journey = Journey(at(WED_BEFORE))
    journey.screen(at(day(0)), results={"fentanyl": "positive"})

    [missing] = findings(report(journey, day(8)), "positive_screen_followup")
    assert (missing.status, missing.overdue) == ("open", True)

    journey.reassess(at(day(10)))
    [late] = findings(report(journey, day(11)), "positive_screen_followup")
    assert (late.status, late.overdue, late.resolved_on) == ("resolved", True, day(10))


def test_positive_only_for_prescribed_buprenorphine_opens_no_followup() -> None:
    """Given a screen positive only for buprenorphine, which is prescribed, then no
    positive_screen_followup finding is opened (an expected positive, not a relapse)."""
    journey = Journey(at(WED_BEFORE))
    journey.screen(
        at(day(0)),
        results={"buprenorphine": "positive", "opioids": "negative"},
        prescribed=["buprenorphine"],
    )

    assert findings(report(journey, day(10)), "positive_screen_followup") == []


def test_a_corrected_positive_screen_opens_no_followup() -> None:
    """Given an unexpected positive screen later marked entered-in-error, then no follow-up
    finding remains."""
    journey = Journey(at(WED_BEFORE))
    positive = journey.screen(at(day(0)), results={"cocaine": "positive"})
    journey.correct(positive)

    assert findings(report(journey, day(10)), "positive_screen_followup") == []


# ---- cadence rules -----------------------------------------------------------------------


def test_seven_days_without_an_attended_session_opens_an_attendance_gap() -> None:
    """Given an adult admitted 02-02 whose last attended session was 02-02 (a missed one on
    02-05 does not count), then on 02-09 there is no gap yet; on 02-10 (7 full days without)
    an attendance_gap is open with due 02-09; a session on 02-12 resolves it."""
    journey = Journey(at(MON, 8))
    last = journey.session(at(day(0)))
    journey.session(at(day(3)), attended=False)

    assert findings(report(journey, day(7)), "attendance_gap") == []
    [gap] = findings(report(journey, day(8)), "attendance_gap")
    assert (gap.status, gap.due, gap.evidence) == ("open", day(7), (last,))

    back = journey.session(at(day(10)))
    [resolved] = findings(report(journey, day(11)), "attendance_gap")
    assert (resolved.status, resolved.resolved_on, resolved.evidence) == (
        "resolved",
        day(10),
        (last, back),
    )


def test_no_attendance_gap_after_discharge() -> None:
    """Given a participant discharged 3 days after their last session, then no attendance
    gap is reported however late the report is."""
    journey = Journey(at(MON, 8))
    journey.session(at(day(0)))
    journey.discharge(at(day(3)))

    assert findings(report(journey, day(60)), "attendance_gap") == []


def test_individual_therapy_is_due_every_14_days() -> None:
    """Given individual sessions on 02-03 and 02-17 (14 days) and then 03-04 (15 days),
    then only the last gap is a finding, due 03-03 and resolved 03-04."""
    journey = Journey(at(MON, 8))
    journey.session(at(day(1)), service="individual", minutes=50)
    second = journey.session(at(day(15)), service="individual", minutes=50)
    third = journey.session(at(day(30)), service="individual", minutes=50)

    [late] = findings(report(journey, day(31)), "individual_therapy_cadence")
    assert (late.due, late.status, late.resolved_on) == (day(29), "resolved", day(30))
    assert late.evidence == (second, third)


def test_screening_is_due_every_7_days_in_the_first_90_days() -> None:
    """Given an admission on 02-02 and a valid screen on 02-06, then the next is due 02-13;
    on 02-14 with none a screening_cadence finding is open."""
    journey = Journey(at(MON, 8))
    journey.screen(at(day(4)))

    assert findings(report(journey, day(11)), "screening_cadence") == []
    [overdue] = findings(report(journey, day(12)), "screening_cadence")
    assert (overdue.status, overdue.due) == ("open", day(11))


def test_dilute_or_refused_screens_do_not_count_for_the_screening_cadence() -> None:
    """Given an admission on 02-02 with a dilute screen on 02-05 and a refused one on 02-08,
    then the first screen is still due 02-09: on 02-10 the finding is open, naming both."""
    journey = Journey(at(MON, 8))
    dilute = journey.screen(at(day(3)), status="dilute")
    refused = journey.screen(at(day(6)), status="refused")

    [overdue] = findings(report(journey, day(8)), "screening_cadence")
    assert (overdue.status, overdue.due) == ("open", day(7))
    assert {dilute, refused} <= set(overdue.evidence)


def test_screening_is_due_every_30_days_after_the_first_90_days() -> None:
    """Given weekly screens through day 91 of the stay, then the next is due 30 days later
    (not 7): no finding 29 days after, a finding once 30 days have passed."""
    journey = Journey(at(MON, 8))
    for offset in range(7, 92, 7):
        journey.screen(at(day(offset)))
    last = day(91)

    assert findings(report(journey, last + timedelta(days=30)), "screening_cadence") == []
    [overdue] = findings(report(journey, last + timedelta(days=31)), "screening_cadence")
    assert overdue.due == last + timedelta(days=30)


def test_reassessment_is_due_30_days_after_the_last_one_at_level_2() -> None:
    """Given an adult admitted to 2.1 on 02-02 and reassessed on 02-27, then nothing is due on
    03-29; on 03-30 (30 days after 02-27 have passed) reassessment_due is open, due 03-29."""
    journey = Journey(at(MON, 8))
    reassessed = journey.reassess(at(day(25)))

    assert findings(report(journey, day(55)), "reassessment_due") == []
    [due] = findings(report(journey, day(56)), "reassessment_due")
    assert (due.status, due.due, due.evidence) == ("open", day(55), (reassessed,))


def test_no_periodic_reassessment_outside_level_2() -> None:
    """Given a participant at 3.5 (residential) for 60 days with no reassessment, then no
    reassessment_due finding is reported."""
    journey = Journey(at(MON, 8), level="3.5")

    assert findings(report(journey, day(60)), "reassessment_due") == []


def test_a_level_change_needs_its_own_reassessment() -> None:
    """Given a step-down from 2.5 to 2.1 on 02-10 without a reassessment, then reassessment_due
    is open from 02-18 (due 02-17); a reassessment on 02-08 would have covered the change."""
    without = Journey(at(MON, 8), level="2.5")
    change = without.change_level(at(day(8)), "2.1")
    covered = Journey(at(MON, 8), level="2.5")
    covered.reassess(at(day(6)))
    covered.change_level(at(day(8)), "2.1")

    assert findings(report(without, day(15)), "reassessment_due") == []
    [due] = findings(report(without, day(16)), "reassessment_due")
    assert (due.status, due.due, due.evidence) == ("open", day(15), (change,))
    assert findings(report(covered, day(16)), "reassessment_due") == []


def test_length_of_stay_beyond_16_weeks_needs_a_recent_reassessment() -> None:
    """Given an adult at IOP (2.1) admitted 02-02 and never reassessed, then on 05-25 (16
    weeks) nothing is due; on 05-26 length_of_stay is open. Reassessed on 05-01 instead,
    the stay is covered until 05-31 and the finding opens on 06-01."""
    never = Journey(at(MON, 8), level="2.1")
    recent = Journey(at(MON, 8), level="2.1")
    recent.reassess(at(date(2026, 5, 1)), decided_level="2.1")
    sixteen_weeks = MON + timedelta(weeks=16)

    assert findings(report(never, sixteen_weeks), "length_of_stay") == []
    [open_finding] = findings(report(never, sixteen_weeks + timedelta(days=1)), "length_of_stay")
    assert (open_finding.status, open_finding.due) == ("open", sixteen_weeks)
    assert findings(report(recent, date(2026, 5, 31)), "length_of_stay") == []
    [later] = findings(report(recent, date(2026, 6, 1)), "length_of_stay")
    assert later.due == date(2026, 5, 31)


# ---- the fold itself -------------------------------------------------------------------


def test_incremental_apply_from_stored_state_equals_a_full_fold() -> None:
    """Given a state folded from part of a stream, stored as JSON and read back, when the
    rest (including a correction of an earlier entry) is applied, then the report equals the
    one from folding the whole stream at once; repeated events change nothing."""
    journey = Journey(at(WED_BEFORE))
    wrong = journey.session(at(day(0)))
    journey.session(at(day(2)))
    journey.screen(at(day(1)), results={"cocaine": "positive"})
    cut = len(journey.events)
    journey.correct(wrong)
    journey.reassess(at(day(3)))

    partial = compliance.fold(journey.events[:cut])
    assert partial is not None
    stored = ComplianceState.from_dict(json.loads(json.dumps(partial.to_dict())))
    for event in journey.events[cut - 2 :]:  # a feed that repeats two events
        compliance.apply(stored, event)
    whole = compliance.fold(journey.events)
    assert whole is not None

    assert stored == whole
    assert compliance.evaluate(stored, day(10)) == compliance.evaluate(whole, day(10))


def test_reports_as_of_an_earlier_date_ignore_later_facts() -> None:
    """Given sessions on 02-02 and 02-09, when the report is as of 02-05, then the week of
    02-09 is absent and the session of 02-09 counts nowhere."""
    journey = Journey(at(WED_BEFORE))
    journey.session(at(day(0)))
    journey.session(at(day(7)))

    result = report(journey, day(3))

    assert [w.week_start for w in result.weeks] == [date(2026, 1, 26), MON]
    assert week(result, MON).structured_hours == 3.0


def test_report_to_dict_uses_the_contract_field_names() -> None:
    """Given a below-minimum week, then to_dict() gives weeks with week_start, level,
    structured_hours, required_hours, status and findings with rule, status, due, period,
    evidence (event ids as text)."""
    journey = Journey(at(WED_BEFORE))
    journey.session(at(day(0)))

    data = report(journey, day(7)).to_dict()

    row = next(w for w in data["weeks"] if w["week_start"] == "2026-02-02")
    assert {"week_start", "level", "structured_hours", "required_hours", "status"} <= set(row)
    finding = next(f for f in data["findings"] if f["rule"] == "weekly_hours")
    assert finding["period"] == "2026-02-02"
    assert finding["due"] is None
    assert all(isinstance(e, str) for e in finding["evidence"])


def test_a_readmission_starts_every_clock_again() -> None:
    """Given a participant discharged on 02-05 and readmitted on 03-02, then the rules run per
    episode: nothing is overdue for the first episode after discharge, and the second episode's
    screening falls due 7 days after the readmission."""
    journey = Journey(at(MON, 8))
    journey.session(at(day(0)))
    journey.screen(at(day(0)))
    journey.discharge(at(day(3)))
    journey.readmit(at(day(28), 8))
    journey.session(at(day(28)))

    result = report(journey, day(36))

    assert [(f.episode, f.due) for f in findings(result, "screening_cadence")] == [(2, day(35))]
