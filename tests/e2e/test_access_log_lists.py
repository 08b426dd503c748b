"""Reads that show several participants, or a participant on a form, are access-logged too.

The caseload (API and page), the record-form page and the event feed read by staff (admin,
auditor) each write an entry per participant shown before they are served; the feed read by
a consented recipient goes to the disclosure log instead (tested with the feed).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.security.tokens import Role
from api.storage.access_log import AccessEntry
from tests.e2e.support import PROGRAM, admission, bearer
from tests.e2e.test_pages import CLINICIAN, sign_in

OTHER_PROGRAM = "harbor-php"


def entries(client: TestClient, record: str) -> list[AccessEntry]:
    found: list[AccessEntry] = client.app.state.access_log.entries(limit=1000)  # type: ignore[attr-defined]
    return [e for e in found if e.record == record]


def admit(client: TestClient, program: str = PROGRAM) -> str:
    response = client.post("/v1/participants", json=admission(program_id=program), headers=bearer())
    assert response.status_code == 201, response.text
    return str(response.json()["participant_id"])


def views_reach_the_log(client: TestClient) -> int:
    """Wait until the views include every event written so far (a caseload is a cross-participant
    read: it reflects the views' position, which follows the log asynchronously)."""
    app: Any = client.app
    head = app.state.application.recorder.max_notification_id() or 0
    assert app.state.views.runner.wait_for(head, timeout=30)
    return int(head)


def caseload_ids(body: dict[str, Any]) -> set[str]:
    return {row["participant_id"] for row in body["participants"]}


def test_the_caseload_logs_each_participant_it_lists(client: TestClient) -> None:
    """Given two participants of the clinician's program and one of another, when the
    clinician lists the caseload, then one entry per listed participant (and no other) is in
    the access log, naming the clinician, the caseload route and the declared purpose."""
    own = {admit(client), admit(client)}
    admit(client, OTHER_PROGRAM)
    clinician = bearer(Role.CLINICIAN, sub="dr-case", programs=(PROGRAM,))
    response = client.get(
        "/v1/participants",
        params={"min_position": views_reach_the_log(client)},
        headers={**clinician, "X-Purpose-Of-Use": "COC"},
    )
    assert response.status_code == 200, response.text
    assert caseload_ids(response.json()) == own
    logged = entries(client, "caseload")
    assert {str(e.participant_id) for e in logged} == own
    assert {(e.sub, e.endpoint, e.purpose) for e in logged} == {
        ("dr-case", "/v1/participants", "COC")
    }
    assert {e.request_id for e in logged} == {response.headers["X-Request-ID"]}


def test_the_feed_read_by_staff_logs_each_participant_on_the_page(client: TestClient) -> None:
    """Given two participants, when an admin and then an auditor read the feed, then each
    read logs one entry per participant on its page."""
    shown = {admit(client), admit(client)}
    for role in (Role.ADMIN, Role.AUDITOR):
        response = client.get("/v1/events", headers=bearer(role, sub=f"feed-{role.value}"))
        assert response.status_code == 200, response.text
        on_page = {event["subject"] for event in response.json()["events"]}
        assert on_page == shown
        logged = [e for e in entries(client, "feed") if e.sub == f"feed-{role.value}"]
        assert {str(e.participant_id) for e in logged} == shown
        assert {e.endpoint for e in logged} == {"/v1/events"}


def test_the_caseload_page_and_the_record_form_are_logged(client: TestClient) -> None:
    """Given a signed-in clinician, the caseload page logs every participant it lists and the
    record form logs the participant it is for, before either is served."""
    first, second = admit(client), admit(client)
    client.follow_redirects = False
    sign_in(client, *CLINICIAN)
    views_reach_the_log(client)
    page = client.get(f"/caseload/{PROGRAM}")
    assert page.status_code == 200, page.text
    assert {str(e.participant_id) for e in entries(client, "caseload_page")} == {first, second}

    form = client.get(f"/participants/{first}/record/session")
    assert form.status_code == 200, form.text
    [entry] = entries(client, "record_form")
    assert (str(entry.participant_id), entry.sub) == (first, CLINICIAN[1])
