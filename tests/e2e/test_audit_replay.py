"""Auditor's replays over HTTP: history on two time axes, reassessment review, chain verify.

Writes here are recorded at chosen moments (the app's clock is moved before each one), so an
entry can be recorded a week after it happened, as a backdated entry is in practice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from api.http.dependencies import clock
from api.security.tokens import Role
from domain.participant import event_id_for
from tests.e2e.support import (
    PROGRAM,
    OpenClient,
    admission,
    bearer,
    correction,
    iso,
    level_change,
    post,
    reassessment,
    session,
)
from tests.integration.test_tamper_evidence import RawStore

# Admitted on a Sunday, so the week from MONDAY is the stay's first full calendar week (2.1
# adult: 9 structured hours).
ADMITTED = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
MONDAY = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def day(n: float, hours: float = 0) -> datetime:
    """`n` days after MONDAY."""
    return MONDAY + timedelta(days=n, hours=hours)


def recording_at(client: TestClient, moment: datetime) -> None:
    """Writes from now on are recorded at `moment`."""
    app: Any = client.app
    app.dependency_overrides[clock] = lambda: moment


def admit(client: TestClient, **overrides: Any) -> str:
    recording_at(client, overrides.pop("recorded_at", ADMITTED))
    body = admission(admitted_at=iso(ADMITTED), **overrides)
    response = client.post("/v1/participants", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["participant_id"])


def write(
    client: TestClient, participant_id: str, resource: str, body: dict[str, Any], at: datetime
) -> str:
    """POST `body`, recorded at `at`; the new event's id."""
    recording_at(client, at)
    response = post(client, participant_id, resource, body)
    assert response.status_code == 201, response.text
    return str(response.json()["event_id"])


def history(
    client: TestClient, participant_id: str, *, known_at: datetime, as_of: datetime, **kw: Any
) -> httpx.Response:
    response: httpx.Response = client.get(
        f"/v1/participants/{participant_id}/history",
        params={"known_at": iso(known_at), "as_of": iso(as_of)},
        **kw,
    )
    return response


def first_week(body: dict[str, Any]) -> tuple[float, str, list[str]]:
    """The week from MONDAY: hours, status, and the status of its weekly_hours findings."""
    [week] = [w for w in body["compliance"]["weeks"] if w["week_start"] == "2026-02-02"]
    findings = [
        f["status"]
        for f in body["compliance"]["findings"]
        if f["rule"] == "weekly_hours" and f["period"] == "2026-02-02"
    ]
    return week["structured_hours"], week["status"], findings


# ---- history ----------------------------------------------------------------------------------


def test_a_session_recorded_a_week_late_answers_differently_by_known_at(
    client: TestClient,
) -> None:
    """Given three 3-hour groups in the first full week, Friday's recorded a week after it
    happened (recorded_at = occurred_at + 7 days), when the history is read as of the next
    Tuesday, then known before the late recording the week has 6 hours, below the minimum with
    an open weekly_hours finding; known after it, 9 hours, met, and no finding."""
    participant = admit(client)
    for n in (0, 2):
        write(client, participant, "sessions", session(started_at=iso(day(n))), day(n, 4))
    friday = day(4)
    write(client, participant, "sessions", session(started_at=iso(friday)), friday + timedelta(7))
    as_of = day(8)

    before = history(client, participant, known_at=day(9, -1), as_of=as_of)
    after = history(client, participant, known_at=day(11, 1), as_of=as_of)

    assert before.status_code == after.status_code == 200, before.text
    assert first_week(before.json()) == (6.0, "below_minimum", ["open"])
    assert first_week(after.json()) == (9.0, "met", [])
    assert (before.json()["recorded_later"], after.json()["recorded_later"]) == (1, 0)
    assert before.json()["stream_version"] + 1 == after.json()["stream_version"]


def test_a_correction_counts_in_history_from_when_it_was_recorded(client: TestClient) -> None:
    """Given a full first week and, recorded on day 9, its Monday session marked entered in
    error, then the history as of day 8 known before the correction counts the original entry
    (9 hours, met); known after it, it does not (6 hours, below minimum) and lists the
    correction. The timeline keeps both entries, the original flagged corrected."""
    participant = admit(client)
    monday = write(client, participant, "sessions", session(started_at=iso(day(0))), day(0, 4))
    for n in (2, 4):
        write(client, participant, "sessions", session(started_at=iso(day(n))), day(n, 4))
    fix = write(client, participant, "corrections", correction(monday), day(9))

    before = history(client, participant, known_at=day(9, -1), as_of=day(8)).json()
    after = history(client, participant, known_at=day(9, 1), as_of=day(8)).json()
    timeline = client.get(f"/v1/participants/{participant}/timeline").json()["events"]

    assert first_week(before) == (9.0, "met", [])
    assert before["corrections"] == []
    assert first_week(after)[:2] == (6.0, "below_minimum")
    assert [(c["event_id"], c["corrected_event_id"]) for c in after["corrections"]] == [
        (fix, monday)
    ]
    assert [
        (e["event_id"], e["corrected"]) for e in timeline if e["event_id"] in (monday, fix)
    ] == [
        (monday, True),
        (fix, False),
    ]


def test_history_gives_the_level_and_status_effective_at_as_of(client: TestClient) -> None:
    """Given a residential admission stepped down to IOP on day 14, the history known now gives
    3.5 as of day 7 and 2.1 (since day 14) as of day 15, with the level history up to then; before
    the stream was recorded, status not_recorded. Defaults: known_at and as_of are now."""
    participant = admit(client, level="3.5")
    write(
        client,
        participant,
        "level-changes",
        level_change(to_level="2.1", effective_at=iso(day(14))),
        day(14, 1),
    )
    known = day(20)

    residential = history(client, participant, known_at=known, as_of=day(7)).json()
    iop = history(client, participant, known_at=known, as_of=day(15)).json()
    unrecorded = history(client, participant, known_at=ADMITTED - timedelta(1), as_of=day(7))
    recording_at(client, day(20))
    defaults = client.get(f"/v1/participants/{participant}/history").json()

    assert (residential["status"], residential["level"]) == ("active", "3.5")
    assert (iop["level"], iop["level_since"]) == ("2.1", "2026-02-16T09:00:00Z")
    assert [(s["level"], s["to"]) for s in iop["level_history"]] == [
        ("3.5", "2026-02-16T09:00:00Z"),
        ("2.1", None),
    ]
    assert (unrecorded.status_code, unrecorded.json()["status"]) == (200, "not_recorded")
    assert (defaults["known_at"], defaults["as_of"]) == (iso(day(20)), iso(day(20)))
    assert defaults["level"] == "2.1" and defaults["stream_version"] == 3


def test_history_is_a_logged_read_for_the_programs_clinicians_and_auditors(
    client: TestClient,
) -> None:
    """A clinician of the participant's program and an auditor may read the history, and each
    read is in the access log as `history`; a clinician of another program gets 404 (as if
    missing), an integrator 403, and a malformed known_at 422."""
    participant = admit(client)
    kw: dict[str, Any] = {"known_at": day(1), "as_of": day(1)}

    ours = history(client, participant, headers=bearer(Role.CLINICIAN, programs=(PROGRAM,)), **kw)
    auditor = history(client, participant, headers=bearer(Role.AUDITOR), **kw)
    elsewhere = history(client, participant, headers=bearer(Role.CLINICIAN, programs=("x",)), **kw)
    integrator = history(client, participant, headers=bearer(Role.INTEGRATOR), **kw)
    log = client.get("/v1/audit/access-log", params={"participant_id": participant}).json()
    # Last: the access entry is appended before the query is found malformed.
    malformed = client.get(
        f"/v1/participants/{participant}/history", params={"known_at": "yesterday"}
    )

    assert (ours.status_code, auditor.status_code) == (200, 200)
    assert (elsewhere.status_code, integrator.status_code, malformed.status_code) == (
        404,
        403,
        422,
    )
    assert [(e["role"], e["record"]) for e in log["entries"]] == [
        ("clinician", "history"),
        ("auditor", "history"),
    ]


# ---- reassessment review ----------------------------------------------------------------------


def test_a_residential_step_down_to_iop_with_d6_at_3_and_no_rationale_is_flagged(
    client: TestClient,
) -> None:
    """Given four weeks at 3.5, when a reassessment rates dimension 6 at 3 and decides IOP with
    no rationale and the step-down follows, then the review lists it with the state before it
    (3.5 for 4 weeks, hours, screens, open findings), the ratings, a step-down decision, and
    the iop_likely_insufficient flag without rationale, on the public boundaries' basis."""
    participant = admit(client, level="3.5")
    write(client, participant, "sessions", session(started_at=iso(day(20))), day(20, 4))
    decision = write(
        client,
        participant,
        "reassessments",
        reassessment(
            assessed_at=iso(ADMITTED + timedelta(days=28)),
            dimensions={"d1": 0, "d2": 1, "d3": 2, "d4": 2, "d5": 2, "d6": 3},
            recommended_level="2.1",
            decided_level="2.1",
            rationale="",
        ),
        day(27, 4),
    )
    write(
        client,
        participant,
        "level-changes",
        level_change(to_level="2.1", effective_at=iso(day(27, 2))),
        day(27, 5),
    )

    response = client.get(f"/v1/audit/participants/{participant}/reassessments")

    assert response.status_code == 200, response.text
    body = response.json()
    assert "not ASAM placement rules" in body["basis"]
    assert body["flagged"] == 1
    [r] = body["reassessments"]
    assert r["event_id"] == decision
    assert r["before"]["level"] == "3.5" and r["before"]["weeks_at_level"] == 4.0
    assert r["before"]["structured_hours"] == 3.0
    assert r["dimensions"]["d6"] == 3
    assert (r["decision"], r["rationale_given"]) == ("step_down", False)
    assert [(f["flag"], f["rationale_given"]) for f in r["flags"]] == [
        ("iop_likely_insufficient", False)
    ]
    assert r["flags"][0]["reasons"][0]["dimension"] == "d6"


def test_a_decision_other_than_recommended_is_flagged_and_the_review_is_for_auditors(
    client: TestClient,
) -> None:
    """Given a reassessment that recommends 2.5 and decides 2.1 with a rationale, the review
    flags decided_differs_from_recommended with the rationale given. Auditors may read the
    review (logged as reassessment_review); clinicians may not (403)."""
    participant = admit(client)
    write(
        client,
        participant,
        "reassessments",
        reassessment(assessed_at=iso(day(10)), recommended_level="2.5", decided_level="2.1"),
        day(10, 1),
    )

    auditor = client.get(
        f"/v1/audit/participants/{participant}/reassessments", headers=bearer(Role.AUDITOR)
    )
    clinician = client.get(
        f"/v1/audit/participants/{participant}/reassessments",
        headers=bearer(Role.CLINICIAN, programs=(PROGRAM,)),
    )
    log = client.get("/v1/audit/access-log", params={"participant_id": participant}).json()

    assert auditor.status_code == 200
    [r] = auditor.json()["reassessments"]
    assert [(f["flag"], f["rationale_given"]) for f in r["flags"]] == [
        ("decided_differs_from_recommended", True)
    ]
    assert clinician.status_code == 403
    assert [e["record"] for e in log["entries"]] == ["reassessment_review"]


# ---- verify -----------------------------------------------------------------------------------


def test_verify_passes_on_an_intact_stream(client: TestClient) -> None:
    """An intact participant verifies: ok, every event chained, sealed, with its head hash;
    an unknown participant is 404 and a clinician is refused (403)."""
    participant = admit(client)
    write(client, participant, "sessions", session(started_at=iso(day(0))), day(0, 4))

    report = client.get(f"/v1/audit/participants/{participant}/verify").json()
    unknown = client.get(f"/v1/audit/participants/{uuid4()}/verify")
    clinician = client.get(
        f"/v1/audit/participants/{participant}/verify",
        headers=bearer(Role.CLINICIAN, programs=(PROGRAM,)),
    )

    assert report["ok"] and report["sealed"]
    assert (report["events"], report["chained"], report["broken"]) == (3, 3, 0)
    assert report["first_break"] is None and len(report["head_hash"]) == 64
    assert (unknown.status_code, clinician.status_code) == (404, 403)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh SQLite file or PostgreSQL database."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def test_verify_names_the_event_edited_with_plain_sql(
    store_url: str, open_client: OpenClient
) -> None:
    """Given a participant with two sessions, when the second session's stored row is edited
    with plain SQL, then verify answers ok false and names that event (id, version, kind)."""
    client = open_client(store_url)
    participant = admit(client)
    for n in (0, 2):
        write(client, participant, "sessions", session(started_at=iso(day(n))), day(n, 4))
    raw = RawStore(store_url)
    raw.replace_in_state(UUID(participant), 4, '"duration_minutes":180', '"duration_minutes":300')

    report = client.get(f"/v1/audit/participants/{participant}/verify").json()

    assert report["ok"] is False
    assert report["first_break"]["event_id"] == str(event_id_for(UUID(participant), 4))
    assert (report["first_break"]["version"], report["first_break"]["kind"]) == (4, "content")
    assert report["broken"] == 1
