"""The participant page's compliance figures and the forms of the new records: hours as
h:mm, a week at two levels shown per level, prescriptions, recertifications and discharge
summaries recorded by forms and shown on the timeline, as the API's timeline shows them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.e2e.support import (
    bearer,
    days_after_admission,
    level_change,
    session,
)
from tests.e2e.test_pages import CLINICIAN, form_fields, sign_in


def write(client: TestClient, participant: str, resource: str, body: dict[str, object]) -> None:
    response = client.post(
        f"/v1/participants/{participant}/{resource}", json=body, headers=bearer()
    )
    assert response.status_code == 201, response.text


def submit(client: TestClient, participant: str, slug: str, **fields: str) -> None:
    page = client.get(f"/participants/{participant}/record/{slug}")
    assert page.status_code == 200, page.text
    response = client.post(
        f"/participants/{participant}/record/{slug}", data={**form_fields(page.text), **fields}
    )
    assert response.status_code == 303, response.text


def page_of(client: TestClient, participant: str) -> str:
    response = client.get(f"/participants/{participant}")
    assert response.status_code == 200, response.text
    return str(response.text)


def test_hours_show_as_hours_and_minutes(pages: TestClient, admitted: str) -> None:
    """Given 535 minutes of groups in the week of Feb 9, then the timeline shows 8:55 of
    9:00 h for that week, never a decimal 8.92."""
    for day, minutes in ((7, 180), (9, 180), (11, 175)):
        started = days_after_admission(day)
        write(
            pages,
            admitted,
            "sessions",
            session(started_at=started, duration_minutes=minutes),
        )
    sign_in(pages, *CLINICIAN)

    html = page_of(pages, admitted)

    assert "8:55 of 9:00 h" in html
    assert "8.92" not in html


def test_a_week_at_two_levels_shows_each_level_with_its_own_sessions(
    pages: TestClient, admitted: str
) -> None:
    """Given 6 h at 2.1 on Monday-Tuesday and 8 h at 2.5 after a Wednesday step-up, then the
    week shows 2.1: 6:00 of 9:00 h and 2.5: 8:00 of 20:00 h (not 0 hours at the last level)."""
    for day in (7, 8):
        write(pages, admitted, "sessions", session(started_at=days_after_admission(day)))
    step_up = level_change(to_level="2.5", effective_at=days_after_admission(9))
    write(pages, admitted, "level-changes", step_up)
    for later in (9.1, 10.0):
        body = session(started_at=days_after_admission(later), duration_minutes=240)
        write(pages, admitted, "sessions", body)
    sign_in(pages, *CLINICIAN)

    html = page_of(pages, admitted)

    assert "2.1: 6:00 of 9:00 h" in html
    assert "2.5: 8:00 of 20:00 h" in html


def test_the_new_records_are_recorded_by_forms_and_shown_on_the_timeline(
    pages: TestClient, admitted: str
) -> None:
    """Given the prescription and recertification forms, when they are submitted, then the
    timeline shows both entries; after a discharge, the discharge summary form records one.
    The page shows the same entries as the API's timeline."""
    sign_in(pages, *CLINICIAN)
    submit(pages, admitted, "prescription", medication="buprenorphine", started_on="2026-02-01")
    submit(pages, admitted, "recertification", certified_at="2026-02-10T10:00")
    write(
        pages,
        admitted,
        "discharge",
        {"discharged_at": days_after_admission(20), "reason": "completed"},
    )
    submit(pages, admitted, "discharge-summary", completed_at="2026-02-25T10:00", text="Done.")

    html = page_of(pages, admitted)

    for title in (
        "Prescribed buprenorphine",
        "Recertified for the program",
        "Discharge summary completed",
    ):
        assert title in html
    api = pages.get(f"/v1/participants/{admitted}/timeline", headers=bearer()).json()
    shown = set(re.findall(r'id="event-([0-9a-f-]{36})"', html))
    assert shown == {e["event_id"] for e in api["events"]}
