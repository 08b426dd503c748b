"""Caseload: per program, the active participants with level, weeks in program and open
finding count."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from projections import caseload, compliance, level_of_care
from projections.caseload import Caseload
from projections.compliance import ComplianceReport
from tests.unit.journey import Journey, at

AS_OF = date(2026, 3, 2)


def reports(*journeys: Journey) -> dict[str, ComplianceReport]:
    result = {}
    for journey in journeys:
        state = compliance.fold(journey.events)
        assert state is not None
        result[journey.id] = compliance.evaluate(state, AS_OF)
    return result


def fold(
    events: Iterable[object],
    reports: Mapping[str, ComplianceReport],
    as_of: date,
    *,
    include_discharged: bool = False,
) -> Caseload:
    """The caseload straight from an interleaved event log, as the queries build it from
    the stored level-of-care states."""
    states = level_of_care.fold_all(events).values()
    return caseload.build(states, reports, as_of, include_discharged=include_discharged)


def test_caseload_lists_active_participants_per_program() -> None:
    """Given two active participants in program-a, one discharged from program-a and one
    active in program-b, then program-a lists the two active ones and program-b its one."""
    a1 = Journey(at("2026-02-02"), program_id="program-a")
    a2 = Journey(at("2026-02-16"), level="2.5", program_id="program-a")
    gone = Journey(at("2026-02-02"), program_id="program-a")
    gone.discharge(at("2026-02-20"))
    b1 = Journey(at("2026-02-23"), program_id="program-b")
    journeys = (a1, a2, gone, b1)

    result = fold([e for j in journeys for e in j.events], reports(*journeys), AS_OF)

    assert {r.participant_id for r in result.rows(program_id="program-a")} == {a1.id, a2.id}
    assert [r.participant_id for r in result.rows(program_id="program-b")] == [b1.id]
    assert [r.participant_id for r in result.rows(level="2.5")] == [a2.id]


def test_rows_carry_level_weeks_in_program_and_open_findings() -> None:
    """Given an adult admitted to 2.1 on 02-02 who attended nothing, then on 03-02 the row is
    at 2.1, 4 completed weeks in (28 days), and counts the open findings of their report."""
    journey = Journey(at("2026-02-02", 8))
    report = reports(journey)

    [row] = fold(journey.events, report, AS_OF).rows()

    assert (row.level, row.weeks_in_program, row.days_in_program) == ("2.1", 4, 28)
    assert row.open_findings == len(report[journey.id].open_findings) > 0
    assert row.to_dict()["open_findings"] == row.open_findings


def test_a_participant_without_a_report_counts_no_findings() -> None:
    """Given no compliance report for a participant, then the row counts 0 open findings."""
    journey = Journey(at("2026-02-02"))

    [row] = fold(journey.events, {}, AS_OF).rows()

    assert row.open_findings == 0


def test_discharged_participants_are_listed_only_on_request() -> None:
    """Given a discharged participant, then the caseload leaves them out unless asked to
    include discharged participants."""
    journey = Journey(at("2026-02-02"))
    journey.discharge(at("2026-02-20"))

    assert fold(journey.events, {}, AS_OF).rows() == []
    [row] = fold(journey.events, {}, AS_OF, include_discharged=True).rows()
    assert row.status == "discharged"
