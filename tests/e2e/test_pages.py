"""The clinicians' pages over HTTP (TestClient, in-memory store, clock fixed at NOW): sign-in,
session cookie, CSRF, roles and program scope, forms, idempotency, access log."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.pages import enable_demo_sign_in
from api.pages.demo import demo_page_link
from api.pages.session import SESSION_COOKIE
from tests.e2e.support import (
    PROGRAM,
    TEST_JWT_SECRET,
    bearer,
    days_after_admission,
    token,
)

CLINICIAN = ("clinician", "pages-clinician", (PROGRAM,))


def sign_in(client: TestClient, role: str, sub: str, programs: tuple[str, ...] = ()) -> Any:
    client.cookies.clear()
    client.get("/signin")
    return client.post(
        "/signin",
        data={
            "token": token(role, sub=sub, programs=programs),
            "csrf_token": client.cookies.get("continuum_signin_csrf"),
        },
    )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def form_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def session_form(client: TestClient, participant: str, **fields: str) -> tuple[str, dict[str, str]]:
    page = client.get(f"/participants/{participant}/record/session")
    assert page.status_code == 200, page.text
    data = {
        **form_fields(page.text),
        "attended": "true",
        "service": "group",
        "started_at": days_after_admission(3).removesuffix("Z")[:16],
        "duration_minutes": "90",
        **fields,
    }
    return f"/participants/{participant}/record/session", data


def sessions_recorded(client: TestClient, participant: str) -> int:
    events = client.get(f"/v1/participants/{participant}/timeline", headers=bearer()).json()
    return sum(1 for e in events["events"] if e["type"] == "SessionAttended")


def test_sign_in_sets_a_strict_httponly_cookie(pages: TestClient) -> None:
    """Given a valid clinician token, When it is posted to the sign-in form, Then the session
    cookie is HttpOnly and SameSite=Strict and the caseload follows."""
    response = sign_in(pages, *CLINICIAN)
    assert response.status_code == 303
    assert response.headers["location"] == "/caseload"
    cookie = response.headers["set-cookie"].lower()
    assert f"{SESSION_COOKIE}=" in cookie
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert pages.get("/caseload").status_code == 200


def test_pages_without_a_session_redirect_to_sign_in(pages: TestClient, admitted: str) -> None:
    """Given no session, When a page is asked for, Then the answer is a redirect to sign-in."""
    for path in ("/caseload", f"/caseload/{PROGRAM}", f"/participants/{admitted}"):
        response = pages.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/signin"


def test_a_bad_token_is_refused_at_sign_in(pages: TestClient) -> None:
    """Given a forged token, When it is posted, Then no session is set and the form says so."""
    pages.get("/signin")
    response = pages.post(
        "/signin",
        data={"token": "not-a-jwt", "csrf_token": pages.cookies.get("continuum_signin_csrf")},
    )
    assert response.status_code == 401
    assert "not accepted" in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_sign_in_without_its_csrf_value_is_refused(pages: TestClient) -> None:
    """Given the sign-in form, When it is posted without the double-submit value, Then 403."""
    response = pages.post("/signin", data={"token": token("clinician", programs=(PROGRAM,))})
    assert response.status_code == 403


def test_demo_link_signs_in_only_in_demo_mode(pages: TestClient) -> None:
    """Given a token in the URL, When demo links are off, Then it is ignored (the form shows);
    When they are on, Then it signs in at once."""
    link = f"/signin?token={token('auditor', sub='demo-auditor')}"
    assert pages.get(link).status_code == 200
    assert SESSION_COOKIE not in pages.cookies
    enable_demo_sign_in(pages.app)  # type: ignore[arg-type]
    response = pages.get(link)
    assert response.status_code == 303
    assert SESSION_COOKIE in response.headers["set-cookie"]


def test_the_printed_demo_timeline_link_opens_in_a_browser(
    pages: TestClient, admitted: str
) -> None:
    """The "Demo timeline" link `serve` prints signs the demo clinician in and lands on the
    participant's page (a browser sends no Authorization header, so an API URL would be 401);
    `next` never leads off the site."""
    enable_demo_sign_in(pages.app)  # type: ignore[arg-type]
    link = demo_page_link("", TEST_JWT_SECRET, f"/participants/{admitted}")
    response = pages.get(link)
    assert response.status_code == 303
    assert response.headers["location"] == f"/participants/{admitted}"
    page = pages.get(f"/participants/{admitted}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    elsewhere = link.replace(f"next=/participants/{admitted}", "next=//evil.example")
    assert pages.get(elsewhere).status_code == 422
    double_slash = pages.get(link.split("&next=")[0] + "&next=//evil")
    assert double_slash.headers["location"] == "/caseload"


def test_integrator_is_refused(pages: TestClient) -> None:
    """Given an integrator token, When it signs in or its cookie asks for a page, Then 403."""
    assert sign_in(pages, "integrator", "feed-reader").status_code == 403
    pages.cookies.set(SESSION_COOKIE, token("integrator", sub="feed-reader"))
    assert pages.get("/caseload").status_code == 403


def test_clinician_of_another_program_gets_404(pages: TestClient, admitted: str) -> None:
    """Given a clinician of another program, When they open the participant or its form,
    Then the answer is 404, as for a missing participant; its caseload is 403."""
    sign_in(pages, "clinician", "elsewhere", ("harbor-php",))
    assert pages.get(f"/participants/{admitted}").status_code == 404
    assert pages.get(f"/participants/{admitted}/record/session").status_code == 404
    assert pages.get(f"/caseload/{PROGRAM}").status_code == 403
    assert pages.get("/participants/not-a-uuid").status_code == 404


def test_auditor_reads_but_cannot_record(pages: TestClient, admitted: str) -> None:
    """Given an auditor, When they open the participant page, Then it shows the record without
    recording links, and the forms refuse both GET and POST (403), appending nothing."""
    sign_in(pages, "auditor", "pages-auditor")
    page = pages.get(f"/participants/{admitted}")
    assert page.status_code == 200
    assert "/record/session" not in page.text
    assert pages.get(f"/participants/{admitted}/record/session").status_code == 403
    refused = pages.post(
        f"/participants/{admitted}/record/session",
        data={"csrf_token": csrf_of(page.text), "attended": "true", "service": "group"},
    )
    assert refused.status_code == 403
    assert sessions_recorded(pages, admitted) == 0


def test_auditor_views_the_record_as_known_at_a_date(pages: TestClient, admitted: str) -> None:
    """Given an auditor, When they ask for the record as known at a date before the admission
    was recorded, Then the page says nothing was recorded yet; a malformed date is a 422."""
    sign_in(pages, "auditor", "pages-auditor")
    before = pages.get(f"/participants/{admitted}/as-known-at?known_at=2026-01-01")
    assert before.status_code == 200
    assert "not_recorded" in before.text
    assert pages.get(f"/participants/{admitted}/as-known-at?known_at=junk").status_code == 422


def test_recording_a_session_redirects_to_the_entry(pages: TestClient, admitted: str) -> None:
    """Given the session form, When it is submitted, Then one SessionAttended is appended and
    the answer redirects (303) to the participant page at the new entry."""
    sign_in(pages, *CLINICIAN)
    url, data = session_form(pages, admitted)
    response = pages.post(url, data=data)
    assert response.status_code == 303, response.text
    assert re.match(rf"/participants/{admitted}\?recorded=.+#event-", response.headers["location"])
    assert sessions_recorded(pages, admitted) == 1


def test_double_submit_records_once(pages: TestClient, admitted: str) -> None:
    """Given one rendering of the form, When it is posted twice, Then one event is appended and
    both answers point to it."""
    sign_in(pages, *CLINICIAN)
    url, data = session_form(pages, admitted)
    first = pages.post(url, data=data)
    second = pages.post(url, data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert sessions_recorded(pages, admitted) == 1


def test_missing_csrf_token_is_refused(pages: TestClient, admitted: str) -> None:
    """Given the session form, When it is posted without (or with a wrong) CSRF token, Then
    403 and nothing is appended."""
    sign_in(pages, *CLINICIAN)
    url, data = session_form(pages, admitted)
    without = {k: v for k, v in data.items() if k != "csrf_token"}
    assert pages.post(url, data=without).status_code == 403
    assert pages.post(url, data={**data, "csrf_token": "x" * 64}).status_code == 403
    assert sessions_recorded(pages, admitted) == 0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"duration_minutes": "0"}, "duration_minutes", "greater than 0"),
        ({"duration_minutes": "ninety"}, "duration_minutes", "valid integer"),
        ({"started_at": ""}, "started_at", "Field required"),
        ({"started_at": "2025-01-01T09:00"}, "started_at", "before the admission"),
    ],
)
def test_refusals_are_shown_next_to_the_field(
    pages: TestClient, admitted: str, fields: dict[str, str], field: str, message: str
) -> None:
    """Given the session form, When a value is malformed (422) or the history forbids it (409),
    Then the form comes back with the API's message next to that field and nothing appended."""
    sign_in(pages, *CLINICIAN)
    url, data = session_form(pages, admitted, **fields)
    response = pages.post(url, data=data)
    assert response.status_code in (409, 422)
    shown = re.search(
        rf'<p class="error" id="[^"]+" data-field="{field}">(.*?)</p>', response.text, re.S
    )
    assert shown and message in shown.group(1), response.text
    assert 'aria-invalid="true"' in response.text
    assert sessions_recorded(pages, admitted) == 0


def test_reassessment_rating_error_is_shown_at_its_dimension(
    pages: TestClient, admitted: str
) -> None:
    """Given the reassessment form, When a rating is out of range, Then the message sits at
    that dimension (`dimensions.d3`)."""
    sign_in(pages, *CLINICIAN)
    page = pages.get(f"/participants/{admitted}/record/reassessment")
    data = {
        **form_fields(page.text),
        "assessed_at": days_after_admission(5).removesuffix("Z")[:16],
        **{f"dimensions.d{n}": "1" for n in range(1, 7)},
        "dimensions.d3": "7",
        "recommended_level": "2.1",
        "decided_level": "2.1",
        "rationale": "Progressing.",
    }
    response = pages.post(f"/participants/{admitted}/record/reassessment", data=data)
    assert response.status_code == 422
    assert 'data-field="dimensions.d3"' in response.text


def test_participant_page_read_is_access_logged(pages: TestClient, admitted: str) -> None:
    """Given a clinician, When the participant page is served, Then the access log holds the
    read: who, which participant, which page."""
    sign_in(pages, *CLINICIAN)
    assert pages.get(f"/participants/{admitted}").status_code == 200
    entries = pages.app.state.access_log.entries()  # type: ignore[attr-defined]
    page_reads = [e for e in entries if e.record == "participant_page"]
    assert len(page_reads) == 1
    assert page_reads[0].sub == "pages-clinician"
    assert str(page_reads[0].participant_id) == admitted
    assert page_reads[0].endpoint == "/participants/{participant_id}"


def test_pages_send_protective_headers(pages: TestClient, admitted: str) -> None:
    """Given any page, Then it forbids framing, inline script and caching of the record."""
    sign_in(pages, *CLINICIAN)
    response = pages.get(f"/participants/{admitted}")
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"


def test_sign_out_clears_the_session(pages: TestClient) -> None:
    """Given a signed-in clinician, When they sign out (with the CSRF token), Then the cookie
    is cleared and pages ask for sign-in again."""
    sign_in(pages, *CLINICIAN)
    page = pages.get("/caseload")
    response = pages.post("/signout", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    assert pages.get("/caseload").status_code == 303
