"""Compliance: follow-ups of positive screens and the cadence rules (attendance gaps, therapy,
screening, reassessment, length of stay) under the default program policy."""

from __future__ import annotations

from datetime import date, timedelta

from tests.unit.compliance_report import MON, WED_BEFORE, day, findings, report
from tests.unit.journey import Journey, at

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
