"""The issue's "Done when" scenarios through HTTP, on memory, SQLite and PostgreSQL.

Dates: admission Monday 2026-02-02 09:00 (a partial first week); the first full week at the
level is Monday 2026-02-09. Reads pass the write's `position` as `min_position`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from api.http.dependencies import clock
from tests.e2e.support import (
    NOW,
    PROGRAM,
    admission,
    days_after_admission,
    level_change,
    post,
    reassessment,
    screening,
    session,
)

FULL_WEEK = "2026-02-09"


def admit(client: TestClient, **overrides: Any) -> str:
    response = client.post("/v1/participants", json=admission(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["participant_id"])


def write(client: TestClient, pid: str, resource: str, body: dict[str, Any]) -> dict[str, Any]:
    response = post(client, pid, resource, body)
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


def change_level(client: TestClient, pid: str, to_level: str, day: float) -> dict[str, Any]:
    """A level change to `to_level`, effective `day` days after the admission."""
    body = level_change(to_level=to_level, effective_at=days_after_admission(day))
    return write(client, pid, "level-changes", body)


def groups(client: TestClient, pid: str, days: list[float], minutes: int = 180) -> list[str]:
    """Attended group sessions on the given days after admission; returns their event ids."""
    return [
        write(
            client,
            pid,
            "sessions",
            session(started_at=days_after_admission(d), duration_minutes=minutes),
        )["event_id"]
        for d in days
    ]


def after_last_write(client: TestClient) -> dict[str, Any]:
    """Query parameters that make a read wait until the views include the last write."""
    position = client.app.state.application.recorder.max_notification_id()  # type: ignore[attr-defined]
    return {"min_position": position}


def compliance(client: TestClient, pid: str, **params: Any) -> dict[str, Any]:
    response = client.get(
        f"/v1/participants/{pid}/compliance", params={**after_last_write(client), **params}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def week(report: dict[str, Any], start: str, level: str | None = None) -> dict[str, Any]:
    rows = [w for w in report["weeks"] if w["week_start"] == start]
    if level is not None:
        rows = [w for w in rows if w["level"] == level]
    assert len(rows) == 1, rows
    row: dict[str, Any] = rows[0]
    return row


def findings(report: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["rule"] == rule]


def test_adult_with_two_three_hour_groups_is_below_minimum(client: TestClient) -> None:
    """Given an adult at 2.1 with two 3-hour groups in a full week, when compliance is read,
    then that week has 6 of 9 required hours and is below_minimum, with an open
    weekly_hours finding for that week citing the sessions."""
    pid = admit(client)
    sessions = groups(client, pid, [8, 10])

    report = compliance(client, pid)

    row = week(report, FULL_WEEK)
    assert (row["structured_hours"], row["required_hours"], row["status"]) == (
        6.0,
        9.0,
        "below_minimum",
    )
    weekly = [f for f in findings(report, "weekly_hours") if f["period"] == FULL_WEEK]
    assert [f["status"] for f in weekly] == ["open"]
    assert set(sessions) <= set(weekly[0]["evidence"])
    assert report["as_of"] == NOW.date().isoformat()


def test_adolescent_with_the_same_week_is_met(client: TestClient) -> None:
    """Given an adolescent at 2.1 with the same two 3-hour groups, then the week is met (6 h)."""
    pid = admit(client, age_group="adolescent")
    groups(client, pid, [8, 10])

    row = week(compliance(client, pid), FULL_WEEK)

    assert (row["required_hours"], row["status"]) == (6.0, "met")


def test_php_needs_twenty_hours(client: TestClient) -> None:
    """Given an adult at 2.5 (PHP), then 18 hours in a full week is below_minimum against 20,
    and 21 hours the next week is met."""
    pid = admit(client, level="2.5")
    groups(client, pid, [7, 8, 9, 10, 11, 12])  # 6 x 3 h = 18 h in the week of Feb 9
    groups(client, pid, [14, 15, 16, 17, 18, 19, 20])  # 7 x 3 h = 21 h in the week of Feb 16

    report = compliance(client, pid)

    assert week(report, FULL_WEEK)["required_hours"] == 20.0
    assert week(report, FULL_WEEK)["status"] == "below_minimum"
    assert week(report, "2026-02-16")["status"] == "met"


def test_a_week_split_by_a_step_down_is_partial_week(client: TestClient) -> None:
    """Given an adult at 2.5 stepped down to 2.1 on Wednesday of a full week, then that week
    is reported once per level, both partial_week."""
    pid = admit(client, level="2.5")
    groups(client, pid, [7, 8])
    change_level(client, pid, "2.1", 9)

    report = compliance(client, pid)

    assert week(report, FULL_WEEK, "2.5")["status"] == "partial_week"
    assert week(report, FULL_WEEK, "2.1")["status"] == "partial_week"


def test_a_correction_of_a_session_changes_that_weeks_hours(client: TestClient) -> None:
    """Given three 3-hour groups in a full week (met, 9 h), when one is corrected as entered
    in error, then the week has 6 h and is below_minimum."""
    pid = admit(client)
    first, *_ = groups(client, pid, [7, 8, 9])
    assert week(compliance(client, pid), FULL_WEEK)["status"] == "met"

    write(client, pid, "corrections", {"event_id": first, "reason": "Entered in error."})

    row = week(compliance(client, pid), FULL_WEEK)
    assert (row["structured_hours"], row["status"]) == (6.0, "below_minimum")


def test_unexpected_positive_opens_a_followup_a_reassessment_resolves(client: TestClient) -> None:
    """Given an unexpected positive screen, then a positive_screen_followup finding is open;
    when a reassessment follows within 7 days, then it is resolved, citing both events."""
    pid = admit(client)
    screen = write(
        client,
        pid,
        "screenings",
        screening(results={"cocaine": "positive"}, prescribed=[]),
    )["event_id"]
    before = findings(compliance(client, pid), "positive_screen_followup")
    assert [f["status"] for f in before] == ["open"]
    assert before[0]["evidence"] == [screen]

    review = write(
        client, pid, "reassessments", reassessment(assessed_at=days_after_admission(10))
    )["event_id"]

    after = findings(compliance(client, pid), "positive_screen_followup")
    assert [(f["status"], f["evidence"]) for f in after] == [("resolved", [screen, review])]


def test_a_positive_for_prescribed_buprenorphine_opens_no_followup(client: TestClient) -> None:
    """Given a screen positive only for buprenorphine, which is prescribed, then no
    positive_screen_followup finding exists."""
    pid = admit(client)
    write(client, pid, "screenings", screening())

    assert findings(compliance(client, pid), "positive_screen_followup") == []


def test_as_of_judges_the_report_at_that_date(client: TestClient) -> None:
    """Given sessions in the week of Feb 9, when compliance is read as of Feb 10, then that
    week is still in_progress and later weeks are absent."""
    pid = admit(client)
    groups(client, pid, [8])

    report = compliance(client, pid, as_of="2026-02-10")

    assert report["as_of"] == "2026-02-10"
    assert week(report, FULL_WEEK)["status"] == "in_progress"
    assert [w["week_start"] for w in report["weeks"]] == ["2026-02-02", FULL_WEEK]


def test_unknown_participant_is_404(client: TestClient) -> None:
    """A participant with no view row is 404 not_found."""
    response = client.get("/v1/participants/00000000-0000-4000-8000-000000000000/compliance")
    assert response.status_code == 404
    assert response.json()["error"] == "participant_not_found"


def test_caseload_lists_active_participants_with_open_findings(client: TestClient) -> None:
    """Given two active participants in the program (one at 2.5), one in another program and
    one discharged, then the caseload lists the program's active ones with their level, weeks
    in program and open finding count, and filters by program, level and status."""
    below = admit(client)
    groups(client, below, [8, 10])
    php = admit(client, level="2.5")
    other = admit(client, program_id="elsewhere")
    gone = admit(client)
    receipt = write(
        client, gone, "discharge", {"discharged_at": days_after_admission(3), "reason": "completed"}
    )

    response = client.get(
        "/v1/participants", params={"program_id": PROGRAM, "min_position": receipt["position"]}
    )
    assert response.status_code == 200, response.text
    rows = {r["participant_id"]: r for r in response.json()["participants"]}
    assert set(rows) == {below, php}
    assert rows[below]["level"] == "2.1" and rows[php]["level"] == "2.5"
    assert rows[below]["weeks_in_program"] == 4
    report = compliance(client, below)
    assert (
        rows[below]["open_findings"]
        == len([f for f in report["findings"] if f["status"] == "open"])
        > 0
    )

    by_level = client.get("/v1/participants", params={"level": "2.5"}).json()["participants"]
    assert [r["participant_id"] for r in by_level] == [php]
    everyone = client.get("/v1/participants").json()["participants"]
    assert {r["participant_id"] for r in everyone} == {below, php, other}
    discharged = client.get("/v1/participants", params={"status": "discharged"}).json()
    assert [r["participant_id"] for r in discharged["participants"]] == [gone]


def test_min_position_reads_your_write_and_an_unreachable_one_is_503(client: TestClient) -> None:
    """When a read passes a write's position as min_position, then it sees that write; a
    position the log has not reached gives 503 views_behind with Retry-After."""
    pid = admit(client)
    receipt = write(client, pid, "sessions", session(started_at=days_after_admission(8)))

    fresh = client.get(
        f"/v1/participants/{pid}/compliance", params={"min_position": receipt["position"]}
    )
    assert fresh.status_code == 200
    assert fresh.json()["position"] >= receipt["position"]
    assert receipt["event_id"] in week(fresh.json(), FULL_WEEK)["evidence"]

    behind = client.get(
        f"/v1/participants/{pid}/compliance", params={"min_position": receipt["position"] + 1000}
    )
    assert behind.status_code == 503
    assert behind.headers["Retry-After"] == "1"
    assert behind.json()["error"] == "views_behind"


def test_a_policy_change_applies_from_when_it_is_recorded(client: TestClient) -> None:
    """Given two full weeks of 6 hours each for an adult at 2.1, when the program lowers the
    2.1 adult minimum to 6 hours on Saturday Feb 14 (PUT), then the week of Feb 9 is still
    judged against 9 (below_minimum) and the week of Feb 16 against 6 (met); GET shows the
    change with its recorded time."""
    pid = admit(client)
    groups(client, pid, [8, 10, 15, 17])
    changed_at = datetime(2026, 2, 14, 12, tzinfo=UTC)
    client.app.dependency_overrides[clock] = lambda: changed_at  # type: ignore[attr-defined]
    minimum = [{"level": "2.1", "age_group": "adult", "hours": 6}]
    response = client.put(f"/v1/programs/{PROGRAM}/policy", json={"minimum_hours": minimum})
    client.app.dependency_overrides[clock] = lambda: NOW  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text

    report = compliance(client, pid)

    assert (week(report, FULL_WEEK)["required_hours"], week(report, FULL_WEEK)["status"]) == (
        9.0,
        "below_minimum",
    )
    assert (week(report, "2026-02-16")["required_hours"], week(report, "2026-02-16")["status"]) == (
        6.0,
        "met",
    )
    policy = client.get(f"/v1/programs/{PROGRAM}/policy").json()
    assert [h["effective_from"] for h in policy["history"]] == ["2026-02-14T12:00:00Z"]
    assert policy["policy"]["minimum_hours"] == [
        {"level": "2.1", "age_group": "adult", "hours": 6.0}
    ]
    assert policy["policy"]["taper_weeks"] == 2  # settings left out keep their values


def test_a_policy_change_naming_an_unknown_setting_is_422(client: TestClient) -> None:
    """A PUT naming a setting the policy does not have is 422 naming it; nothing is recorded."""
    response = client.put(f"/v1/programs/{PROGRAM}/policy", json={"taper_weekz": 3})

    assert response.status_code == 422
    assert response.json()["field"] == "taper_weekz"
    assert client.get(f"/v1/programs/{PROGRAM}/policy").json()["history"] == []
