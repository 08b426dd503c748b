"""The compliance rules a surveyor signs, through HTTP on memory, SQLite and PostgreSQL:
the taper, program time zones, covered weeks, the rules about discharge and Medicare
recertification, expected positives from prescriptions, IOP length of stay and findings left
at discharge. Figures are the rule table's defaults (IOP 9 h, PHP 20 h, taper 2 weeks).

Admission is Monday 2026-02-02 09:00 UTC; the app's clock is NOW (Monday 2026-03-02 12:00 UTC)
unless a test moves it to record a policy before the weeks it judges.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from api.http.dependencies import clock
from tests.e2e.support import NOW, days_after_admission, level_change, post, reassessment
from tests.e2e.test_compliance_http import (
    admit,
    change_level,
    compliance,
    findings,
    groups,
    week,
    write,
)

EARLY = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)  # a policy recorded here governs every test week


@contextmanager
def clock_at(client: TestClient, moment: datetime) -> Iterator[None]:
    """Writes recorded at `moment` (a policy change applies from when it is recorded)."""
    overrides = client.app.dependency_overrides  # type: ignore[attr-defined]
    overrides[clock] = lambda: moment
    try:
        yield
    finally:
        overrides[clock] = lambda: NOW


def set_policy(client: TestClient, program: str, **settings: Any) -> None:
    with clock_at(client, EARLY):
        response = client.put(f"/v1/programs/{program}/policy", json=settings)
    assert response.status_code == 200, response.text


def decide(client: TestClient, pid: str, days: float, level: str) -> str:
    body = reassessment(
        assessed_at=days_after_admission(days), recommended_level=level, decided_level=level
    )
    return str(write(client, pid, "reassessments", body)["event_id"])


def six_hours_a_week(client: TestClient, pid: str, mondays: list[int]) -> None:
    """Two 3-hour groups (Monday and Wednesday) in each week starting `mondays` days in."""
    groups(client, pid, [d + offset for d in mondays for offset in (0, 2)])


def statuses(report: dict[str, Any], *starts: str, level: str | None = None) -> list[str]:
    return [week(report, start, level)["status"] for start in starts]


def open_weekly(report: dict[str, Any]) -> list[str]:
    return [f["period"] for f in findings(report, "weekly_hours") if f["status"] == "open"]


# ---- taper ---------------------------------------------------------------------------------


def test_weeks_after_stepping_down_from_residential_are_judged(client: TestClient) -> None:
    """Given 3.5 -> 2.1 on Feb 4 and two weeks of 6 h with no reassessment, then both weeks
    are below_minimum with open weekly_hours findings (no taper after entering a level)."""
    pid = admit(client, level="3.5")
    change_level(client, pid, "2.1", 2)
    six_hours_a_week(client, pid, [7, 14])

    report = compliance(client, pid, as_of="2026-02-22")

    assert statuses(report, "2026-02-09", "2026-02-16", level="2.1") == ["below_minimum"] * 2
    assert open_weekly(report) == ["2026-02-09", "2026-02-16"]


def test_a_decision_to_move_down_gives_two_taper_weeks(client: TestClient) -> None:
    """Given a reassessment at 2.1 deciding level 1 (Feb 4), then two weeks of 6 h before the
    move are taper with no finding, and the third such week is below_minimum; when the
    decision is marked entered-in-error, no week is taper."""
    pid = admit(client)
    decision = decide(client, pid, 2, "1")
    six_hours_a_week(client, pid, [7, 14, 21])

    report = compliance(client, pid, as_of="2026-03-01")
    weeks = ("2026-02-09", "2026-02-16", "2026-02-23")
    assert statuses(report, *weeks) == ["taper", "taper", "below_minimum"]
    assert "2026-02-09" not in open_weekly(report) and "2026-02-23" in open_weekly(report)

    write(client, pid, "corrections", {"event_id": decision, "reason": "wrong participant"})
    assert statuses(compliance(client, pid, as_of="2026-03-01"), *weeks) == ["below_minimum"] * 3


# ---- weeks in the program's zone -----------------------------------------------------------

# Tuesday and Thursday 18:00 and Sunday 23:30 in Chicago (CST, UTC-6) in the week of Feb 9;
# the Sunday session is Monday 05:30 in UTC.
CHICAGO_SESSIONS = (
    "2026-02-10T18:00:00-06:00",
    "2026-02-12T18:00:00-06:00",
    "2026-02-15T23:30:00-06:00",
)


def three_sessions(client: TestClient, pid: str) -> None:
    for started_at in CHICAGO_SESSIONS:
        body = {"service": "group", "started_at": started_at, "duration_minutes": 180}
        write(client, pid, "sessions", {**body, "attended": True})


def test_a_chicago_programs_weeks_are_local(client: TestClient) -> None:
    """Given a program in America/Chicago, then Tuesday, Thursday and Sunday 23:30 local 3 h
    sessions make that week met at 9 h (540 minutes); the same sessions in a UTC program are
    judged in UTC weeks (6 h, then 3 h); changing the zone later moves no past week."""
    set_policy(client, "chicago-iop", timezone="America/Chicago")
    chicago = admit(client, program_id="chicago-iop")
    utc = admit(client, program_id="utc-iop")
    three_sessions(client, chicago)
    three_sessions(client, utc)

    local = compliance(client, chicago, as_of="2026-02-22")
    assert local["timezone"] == "America/Chicago"
    row = week(local, "2026-02-09")
    assert (row["status"], row["structured_minutes"], row["structured_hours"]) == ("met", 540, 9.0)
    in_utc = compliance(client, utc, as_of="2026-02-22")
    assert in_utc["timezone"] == "UTC"
    assert week(in_utc, "2026-02-09")["structured_minutes"] == 360
    assert week(in_utc, "2026-02-16")["structured_minutes"] == 180

    response = client.put("/v1/programs/chicago-iop/policy", json={"timezone": "UTC"})
    assert response.status_code == 200, response.text
    assert week(compliance(client, chicago, as_of="2026-02-22"), "2026-02-09")["status"] == "met"


def test_a_monday_admission_or_step_up_covers_that_week(client: TestClient) -> None:
    """Given admission at 09:00 on Monday Feb 2 and 6 h that week, then that week is judged:
    below_minimum; a step-up to 2.5 at 09:00 on Monday Feb 9 with 19 h that week is
    below_minimum against 20 h; the week holding "as of" (today) is in_progress."""
    pid = admit(client)
    groups(client, pid, [0.5, 2])
    change_level(client, pid, "2.5", 7)
    groups(client, pid, [7.1, 8, 9, 10], minutes=240)
    groups(client, pid, [11], minutes=180)
    groups(client, pid, [28.1])

    report = compliance(client, pid)

    assert report["as_of"] == NOW.date().isoformat()
    assert week(report, "2026-02-02")["status"] == "below_minimum"
    php = week(report, "2026-02-09", "2.5")
    assert (php["status"], php["structured_hours"], php["required_hours"]) == (
        "below_minimum",
        19.0,
        20.0,
    )
    assert week(report, "2026-03-02")["status"] == "in_progress"


# ---- discharge, recertification ------------------------------------------------------------


def test_a_planned_discharge_needs_a_reassessment_in_the_week_before(client: TestClient) -> None:
    """Given a completed discharge on day 20 with no reassessment in the 7 days before it,
    then discharge_reassessment is open; a reassessment of day 18 documented afterwards
    answers it."""
    pid = admit(client)
    discharge = {"discharged_at": days_after_admission(20), "reason": "completed"}
    write(client, pid, "discharge", discharge)
    [finding] = findings(compliance(client, pid, as_of="2026-02-23"), "discharge_reassessment")
    assert (finding["status"], finding["due"]) == ("open", "2026-02-22")

    decide(client, pid, 18, "1")

    assert findings(compliance(client, pid, as_of="2026-02-23"), "discharge_reassessment") == []


def test_a_discharge_summary_is_due_within_15_days(client: TestClient) -> None:
    """Given a discharge on Feb 6, then no discharge_summary finding through Feb 21; open on
    Feb 22; a summary completed Feb 25 resolves it. A summary before the discharge or for an
    active participant is refused (409 before_discharge, not_discharged)."""
    active = admit(client)
    refused = post(client, active, "discharge-summary", {"completed_at": days_after_admission(5)})
    assert (refused.status_code, refused.json()["error"]) == (409, "not_discharged")
    pid = admit(client)
    write(client, pid, "discharge", {"discharged_at": days_after_admission(4), "reason": "other"})
    early = post(client, pid, "discharge-summary", {"completed_at": days_after_admission(3)})
    assert (early.status_code, early.json()["error"]) == (409, "before_discharge")

    assert findings(compliance(client, pid, as_of="2026-02-21"), "discharge_summary") == []
    [due] = findings(compliance(client, pid, as_of="2026-02-22"), "discharge_summary")
    assert (due["status"], due["due"]) == ("open", "2026-02-21")

    summary = {"completed_at": days_after_admission(23), "text": "Summary of care."}
    write(client, pid, "discharge-summary", summary)
    [late] = findings(compliance(client, pid, as_of="2026-02-26"), "discharge_summary")
    assert (late["status"], late["resolved_on"]) == ("resolved", "2026-02-25")


def test_recertification_every_60_days_when_the_policy_sets_it(client: TestClient) -> None:
    """Given a program whose policy sets recertification_days 60 and an admission on Dec 1,
    then nothing is due on day 60 (Jan 30); the finding opens on day 61 without a
    recertification; one recorded on Feb 3 resolves it. A program without it has none."""
    set_policy(client, "medicare-iop", recertification_days=60)
    pid = admit(client, program_id="medicare-iop", admitted_at="2025-12-01T09:00:00Z")
    other = admit(client, admitted_at="2025-12-01T09:00:00Z")

    assert findings(compliance(client, pid, as_of="2026-01-30"), "recertification") == []
    [due] = findings(compliance(client, pid, as_of="2026-01-31"), "recertification")
    assert (due["status"], due["due"], due["opened_on"]) == ("open", "2026-01-30", "2026-01-31")
    assert findings(compliance(client, other, as_of="2026-01-31"), "recertification") == []

    write(client, pid, "recertifications", {"certified_at": "2026-02-03T10:00:00Z"})
    [late] = findings(compliance(client, pid, as_of="2026-02-05"), "recertification")
    assert (late["status"], late["resolved_on"]) == ("resolved", "2026-02-03")


# ---- prescriptions -------------------------------------------------------------------------


def norbuprenorphine(client: TestClient, pid: str, days: float) -> None:
    body = {
        "collected_at": days_after_admission(days),
        "specimen": "urine",
        "status": "valid",
        "results": {"norbuprenorphine": "positive", "cocaine": "negative"},
    }
    write(client, pid, "screenings", body)


def review_flags(client: TestClient, pid: str) -> list[str]:
    response = client.get(f"/v1/audit/participants/{pid}/reassessments")
    assert response.status_code == 200, response.text
    return [f["code"] for r in response.json()["reassessments"] for f in r["flags"]]


def test_a_positive_explained_by_an_active_prescription_is_expected(client: TestClient) -> None:
    """Given buprenorphine prescribed from Feb 1, then a norbuprenorphine positive on Feb 5 is
    expected: no follow-up finding, no relapse flag on the next IOP reassessment. After the
    prescription ended (Feb 10), the same positive on Feb 14 is unexpected."""
    pid = admit(client)
    receipt = write(
        client, pid, "prescriptions", {"medication": "Buprenorphine", "started_on": "2026-02-01"}
    )
    prescription = receipt["prescription_id"]
    assert prescription == receipt["event_id"]
    norbuprenorphine(client, pid, 3)
    decide(client, pid, 4, "2.1")

    assert findings(compliance(client, pid, as_of="2026-02-09"), "positive_screen_followup") == []
    assert "relapse_during_iop" not in review_flags(client, pid)

    write(client, pid, f"prescriptions/{prescription}/end", {"ended_on": "2026-02-10"})
    norbuprenorphine(client, pid, 12)
    [followup] = findings(compliance(client, pid, as_of="2026-02-16"), "positive_screen_followup")
    assert followup["status"] == "open"


def test_prescription_refusals(client: TestClient) -> None:
    """Ending an unknown prescription is 409 unknown_prescription; ending one twice is 409
    prescription_ended; an end before its start is 422 naming ended_on."""
    pid = admit(client)
    unknown = post(client, pid, f"prescriptions/{pid}/end", {"ended_on": "2026-02-10"})
    assert (unknown.status_code, unknown.json()["error"]) == (409, "unknown_prescription")
    body = {"medication": "methadone", "started_on": "2026-02-01"}
    prescription = write(client, pid, "prescriptions", body)["prescription_id"]
    backwards = post(client, pid, f"prescriptions/{prescription}/end", {"ended_on": "2026-01-01"})
    assert (backwards.status_code, backwards.json()["field"]) == (422, "ended_on")
    write(client, pid, f"prescriptions/{prescription}/end", {"ended_on": "2026-02-10"})
    twice = post(client, pid, f"prescriptions/{prescription}/end", {"ended_on": "2026-02-11"})
    assert (twice.status_code, twice.json()["error"]) == (409, "prescription_ended")


# ---- length of stay, level changes, episodes ------------------------------------------------


def test_length_of_stay_counts_only_iop_days(client: TestClient) -> None:
    """Given 10 weeks at 3.5 then 7 weeks at 2.1 (17 weeks in all), then no length_of_stay
    finding: only days at IOP count toward the typical 16 weeks."""
    pid = admit(client, level="3.5", admitted_at="2025-09-01T09:00:00Z")
    step_down = level_change(to_level="2.1", effective_at="2025-11-10T09:00:00Z")
    write(client, pid, "level-changes", step_down)

    report = compliance(client, pid, as_of="2025-12-29")

    assert findings(report, "length_of_stay") == []


def test_a_level_change_needs_a_reassessment_that_decided_the_new_level(
    client: TestClient,
) -> None:
    """Given a step-down to level 1 on day 14 with only a reassessment deciding 2.1 near it,
    then reassessment_due for the change is open; one deciding level 1 answers it."""
    pid = admit(client)
    write(client, pid, "level-changes", level_change(effective_at=days_after_admission(14)))
    decide(client, pid, 13, "2.1")

    def change_findings() -> list[dict[str, Any]]:
        report = compliance(client, pid, as_of="2026-02-26")
        return [f for f in findings(report, "reassessment_due") if f["due"] == "2026-02-23"]

    assert [f["status"] for f in change_findings()] == ["open"]
    decide(client, pid, 15, "1")
    assert change_findings() == []


def test_an_edition_re_code_is_not_a_step_up(client: TestClient) -> None:
    """Given a participant at 3rd-edition level 1, when level 1.5 of the 4th edition is
    recorded, then the event is LevelRecoded, and no level-change reassessment is due."""
    pid = admit(client, level="1")
    recode = level_change(
        to_level="1.5", criteria_edition="4", effective_at=days_after_admission(3)
    )
    receipt = write(client, pid, "level-changes", recode)

    timeline = client.get(f"/v1/participants/{pid}/timeline").json()["events"]
    [event] = [e for e in timeline if e["event_id"] == receipt["event_id"]]
    assert event["type"] == "LevelRecoded"
    report = compliance(client, pid, as_of="2026-02-20")
    assert [
        f for f in findings(report, "reassessment_due") if receipt["event_id"] in f["evidence"]
    ] == []


def test_discharge_leaves_open_findings_unresolved_and_the_caseload_drops(
    client: TestClient,
) -> None:
    """Given open weekly_hours findings, when the participant drops out, then those findings
    are unresolved_at_discharge and no longer counted as the participant's open findings."""
    pid = admit(client, program_id="caseload-iop")
    six_hours_a_week(client, pid, [7])
    before = client.get(
        "/v1/participants", params={"program_id": "caseload-iop", "as_of": "2026-02-17"}
    )
    [row] = before.json()["participants"]
    assert row["open_findings"] >= 1

    write(
        client,
        pid,
        "discharge",
        {"discharged_at": days_after_admission(15), "reason": "dropped_out"},
    )

    report = compliance(client, pid, as_of="2026-02-17")
    weekly = findings(report, "weekly_hours")
    assert weekly and {f["status"] for f in weekly} == {"unresolved_at_discharge"}
    assert not [f for f in report["findings"] if f["status"] == "open"]
    after = client.get(
        "/v1/participants",
        params={"program_id": "caseload-iop", "status": "discharged", "as_of": "2026-02-17"},
    )
    [row] = after.json()["participants"]
    assert row["open_findings"] == 0
