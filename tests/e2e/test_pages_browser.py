"""The clinicians' pages in a real browser: Debian's Chromium driven by Playwright against a
uvicorn server (SQLite store in a temporary directory, demo cohort loaded), with axe-core
checking every page. Screenshots go to docs/screenshots/ when CONTINUUM_UPDATE_SCREENSHOTS=1
(the committed PNGs), else to the test's temporary directory."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.seed.demo import HARBOR, demo_participant_id
from projections.weeks import week_start
from tests.e2e.browser_support import (
    CHROMIUM_ARGS,
    SCREENSHOTS,
    LiveServer,
    assert_accessible,
    live_server,
    require_browser,
)

pytestmark = pytest.mark.slow

# Residential 3.5, then a step-down to IOP 2.1, still active: the demo's richest record.
SHOWCASE = demo_participant_id("harbor-1")


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_browser()


@pytest.fixture(scope="module")
def server(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("browser") / "continuum.sqlite") as running:
        yield running


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    if os.environ.get("CONTINUUM_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path


def sign_in(page: Any, server: LiveServer, role: str = "clinician") -> None:
    """Sign in through the form with a token pasted in, as a clinician would."""
    programs = ("harbor-php", "riverside-iop") if role == "clinician" else ()
    page.goto(f"{server.base_url}/signin")
    page.get_by_label("Access token").fill(server.token(role, f"browser-{role}", programs))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/caseload$"))


def this_week_hours(page: Any) -> float:
    """This week's hours, shown as h:mm."""
    text = page.get_by_test_id("this-week-hours").inner_text()
    match = re.match(r"(\d+):(\d\d) of", text)
    assert match, text
    return int(match.group(1)) + int(match.group(2)) / 60


def test_sign_in_page_is_accessible(page: Any, server: LiveServer, shots: Path) -> None:
    """Given the sign-in page, When axe-core checks it, Then it has no serious violation."""
    page.goto(f"{server.base_url}/signin")
    assert page.get_by_label("Access token").is_visible()
    assert_accessible(page)
    page.screenshot(path=str(shots / "signin.png"))


def test_caseload_lists_active_participants_sortably(
    page: Any, server: LiveServer, shots: Path
) -> None:
    """Given a signed-in clinician, When the Harbor caseload opens, Then it lists participants
    with level, weeks, this week's hours and finding badges, sorts by a column, and passes
    axe-core."""
    sign_in(page, server)
    page.get_by_role("link", name=HARBOR).click()
    page.wait_for_url(re.compile(r"/caseload/harbor-php"))
    table = page.get_by_test_id("caseload")
    rows = table.locator("tbody tr")
    assert rows.count() >= 2
    assert table.locator(f'tr[data-participant="{SHOWCASE}"]').count() == 1
    assert "of" in table.locator("td.hours").first.inner_text()
    assert_accessible(page)
    page.screenshot(path=str(shots / "caseload.png"), full_page=True)
    page.get_by_role("link", name=re.compile("Level of care")).click()
    page.wait_for_url(re.compile(r"sort=-level"))
    assert page.locator('th[aria-sort="descending"]').inner_text().startswith("Level of care")


def test_participant_page_shows_step_down_band_and_chart(
    page: Any, server: LiveServer, shots: Path
) -> None:
    """Given the caseload, When a clinician opens the residential step-down participant,
    Then the level bands show 3.5 then 2.1, the step-down is marked in the timeline, the SVG
    chart has a bar per week and the minimum line, findings link to timeline anchors, and
    axe-core finds no serious violation."""
    sign_in(page, server)
    page.goto(f"{server.base_url}/caseload/harbor-php")
    page.locator(f'tr[data-participant="{SHOWCASE}"] a').click()
    page.wait_for_url(re.compile(f"/participants/{SHOWCASE}$"))
    journey = page.get_by_test_id("journey")
    levels = journey.locator(".span").evaluate_all("els => els.map(e => e.dataset.level)")
    assert levels[:2] == ["3.5", "2.1"], levels
    band = page.get_by_test_id("step_down-band").first
    assert band.inner_text().startswith("Stepped down 3.5 → 2.1")
    chart = page.get_by_test_id("hours-chart")
    assert chart.get_attribute("role") == "img"
    assert "minimum" in chart.locator("title").first.text_content()
    assert chart.locator("g.bar").count() >= 8
    assert page.get_by_test_id("minimum-line").get_attribute("d")
    evidence = page.locator(".findings .evidence a").first
    if evidence.count():
        target = evidence.get_attribute("href")
        assert target and page.locator(target).count() == 1
    assert_accessible(page)
    page.screenshot(path=str(shots / "participant.png"), full_page=False)
    band.scroll_into_view_if_needed()
    page.mouse.wheel(0, -300)
    page.screenshot(path=str(shots / "participant-timeline.png"), full_page=False)


def _open_session_form(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.base_url}/participants/{SHOWCASE}")
    page.get_by_role("link", name="Record a session").click()
    page.wait_for_url(re.compile("/record/session$"))


def _recent_start() -> str:
    """A time earlier today (UTC, the demo policy's zone) that is within this week."""
    now = datetime.now(UTC)
    monday = datetime.combine(week_start(now.date()), datetime.min.time(), UTC)
    start = max(now - timedelta(hours=2), monday)
    return start.strftime("%Y-%m-%dT%H:%M")


def test_recording_a_session_changes_the_weeks_hours(
    page: Any, server: LiveServer, shots: Path
) -> None:
    """Given the participant page, When a clinician records an attended 90-minute group
    through the form, Then the page comes back with the entry and this week's hours up 1.5."""
    sign_in(page, server)
    page.goto(f"{server.base_url}/participants/{SHOWCASE}")
    before = this_week_hours(page)
    _open_session_form(page, server)
    assert_accessible(page)
    page.screenshot(path=str(shots / "form-session.png"), full_page=True)
    page.get_by_label("Attended").check()
    page.get_by_label("Service").select_option("group")
    page.get_by_label("Started at").fill(_recent_start())
    page.get_by_label("Duration (minutes)").fill("90")
    page.get_by_role("button", name="Record session").click()
    page.wait_for_url(re.compile(r"recorded="))
    assert page.get_by_test_id("recorded").is_visible()
    assert this_week_hours(page) == pytest.approx(before + 1.5)


def test_invalid_value_is_shown_next_to_its_field(
    page: Any, server: LiveServer, shots: Path
) -> None:
    """Given the session form, When the duration is 0, Then nothing is recorded and the API's
    422 message appears next to the duration field (and in the summary), accessibly."""
    sign_in(page, server)
    _open_session_form(page, server)
    page.get_by_label("Duration (minutes)").fill("0")
    page.get_by_role("button", name="Record session").click()
    error = page.locator('.error[data-field="duration_minutes"]')
    assert "greater than 0" in error.inner_text()
    assert page.get_by_label("Duration (minutes)").get_attribute("aria-invalid") == "true"
    assert page.get_by_test_id("error-summary").is_visible()
    assert_accessible(page)
    page.screenshot(path=str(shots / "form-error.png"), full_page=True)


def test_double_submit_records_once(page: Any, server: LiveServer) -> None:
    """Given the session form, When its button is double-clicked, Then one session is recorded
    (both posts carry the form's idempotency key)."""
    sign_in(page, server)
    _open_session_form(page, server)
    track = f"double-{secrets.token_hex(3)}"
    page.get_by_label("Started at").fill(_recent_start())
    page.get_by_label("Duration (minutes)").fill("30")
    page.get_by_label("Track").fill(track)
    page.get_by_role("button", name="Record session").dblclick()
    page.wait_for_url(re.compile(r"recorded="))
    page.goto(f"{server.base_url}/participants/{SHOWCASE}")
    assert page.locator(".details dd", has_text=track).count() == 1


def test_form_without_csrf_token_is_refused(page: Any, server: LiveServer) -> None:
    """Given the session form, When it is posted without its CSRF token, Then it is refused
    (403) and nothing is recorded."""
    sign_in(page, server)
    _open_session_form(page, server)
    track = f"csrf-{secrets.token_hex(3)}"
    page.get_by_label("Track").fill(track)
    form = page.get_by_test_id("record-form")
    form.locator('input[name="csrf_token"]').evaluate_all("els => els.forEach(e => e.remove())")
    with page.expect_response(re.compile("/record/session$")) as posted:
        page.get_by_role("button", name="Record session").click()
    assert posted.value.status == 403
    assert page.get_by_role("heading", name="Form not accepted").is_visible()
    page.goto(f"{server.base_url}/participants/{SHOWCASE}")
    assert page.locator(".details dd", has_text=track).count() == 0


def test_auditor_sees_the_record_as_known_at_a_date(
    page: Any, server: LiveServer, shots: Path
) -> None:
    """Given the demo auditor's one-click link, When the auditor opens the participant and
    picks an earlier date, Then the page shows the record as known then, with no recording
    forms, and passes axe-core."""
    token = server.token("auditor", "browser-auditor")
    page.goto(f"{server.base_url}/signin?token={token}")
    page.wait_for_url(re.compile(r"/caseload$"))
    page.goto(f"{server.base_url}/participants/{SHOWCASE}")
    assert page.get_by_role("link", name="Record a session").count() == 0
    earlier = (datetime.now(UTC).date() - timedelta(days=60)).isoformat()
    page.get_by_label("View the record as known at").fill(earlier)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"as-known-at\?known_at="))
    assert page.get_by_test_id("known-at").is_visible()
    levels = (
        page.get_by_test_id("journey")
        .locator(".span")
        .evaluate_all("els => els.map(e => e.dataset.level)")
    )
    assert levels == ["3.5"], levels  # the step-down came later than 60 days ago
    assert_accessible(page)
    page.screenshot(path=str(shots / "auditor-known-at.png"), full_page=False)


def test_sign_out_ends_the_session(page: Any, server: LiveServer) -> None:
    """Given a signed-in clinician, When they sign out, Then the sign-in page says so and the
    caseload asks for sign-in again."""
    sign_in(page, server)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin\?signed_out=true"))
    assert page.get_by_text("You are signed out.").is_visible()
    page.goto(f"{server.base_url}/caseload")
    assert re.search(r"/signin$", page.url)


def test_the_documented_sse_example_receives_events_in_a_browser(
    page: Any, server: LiveServer
) -> None:
    """The browser example of docs/events.md, run as written on a page of the site by a
    signed-in auditor, receives CloudEvents through EventSource and addEventListener."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "events.md"
    block = docs.read_text().split("<!-- sse-browser-example:begin -->")[1]
    snippet = block.split("```js")[1].split("```")[0]
    sign_in(page, server, role="auditor")
    page.evaluate(f"() => {{ {snippet}\nwindow.__received = received; window.__stream = stream; }}")
    page.wait_for_function("() => window.__received.length >= 3")
    received = page.evaluate("() => window.__received.slice(0, 3)")
    page.evaluate("() => window.__stream.close()")
    assert received[0]["type"] == "org.continuum.participant.registered.v1"
    assert all(event["specversion"] == "1.0" for event in received)
