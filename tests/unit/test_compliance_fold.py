"""Compliance fold itself: incremental apply, reports as of a date, the contract field names
and readmissions."""

from __future__ import annotations

import json
from datetime import date

from projections import compliance
from projections.compliance import ComplianceState
from tests.unit.compliance_report import MON, WED_BEFORE, day, findings, report, week
from tests.unit.journey import Journey, at

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
