"""Browser tests' plumbing: a real uvicorn server over a temporary SQLite store with the demo
cohort, Debian's Chromium driven by Playwright, and axe-core's accessibility check.

No browser is ever downloaded: Playwright launches /usr/bin/chromium (`apt-get install -y
chromium`). Where Chromium or Playwright is missing the browser tests are skipped with the
reason; with CONTINUUM_REQUIRE_BROWSER=1 (set by .ci/run) they fail instead.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.http.app import create_app
from api.pages import enable_demo_sign_in
from api.security.tokens import mint_token
from api.seed.demo import load_demo_cohort
from api.settings import Settings

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
BROWSER_SECRET = "browser-test-secret-0123456789abcdef0123456789"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# axe-core impacts that fail a test; minor and moderate ones are reported by axe but tolerated.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CONTINUUM_CHROMIUM"), *CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    return found


def require_browser() -> str:
    """The Chromium executable, or skip (fail under CONTINUUM_REQUIRE_BROWSER=1) loudly."""
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install playwright)")
    if importlib.util.find_spec("axe_playwright_python") is None:
        missing.append("the axe-playwright-python package")
    executable = chromium_path()
    if executable is None:
        missing.append("Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    if missing:
        reason = "BROWSER TESTS NOT RUN: missing " + ", ".join(missing)
        if os.environ.get("CONTINUUM_REQUIRE_BROWSER", "") == "1":
            pytest.fail(reason + " (CONTINUUM_REQUIRE_BROWSER=1)", pytrace=False)
        pytest.skip(reason)
    assert executable is not None
    return executable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    secret: str

    def token(self, role: str, sub: str, programs: tuple[str, ...] = ()) -> str:
        return mint_token(self.secret, role=role, sub=sub, programs=programs)


@contextmanager
def live_server(database_path: Path) -> Iterator[LiveServer]:
    """uvicorn serving the app on a free 127.0.0.1 port, demo cohort loaded, demo links on."""
    app = create_app(
        Settings(
            database_url=f"sqlite:///{database_path}",
            demo=False,
            log_format="console",
            log_level="WARNING",
            jwt_secret=BROWSER_SECRET,
        )
    )
    load_demo_cohort(app.state.application, today=datetime.now(UTC).date())
    enable_demo_sign_in(app)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="browser-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", BROWSER_SECRET)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    results = Axe().run(page)
    found = []
    for violation in results.response.get("violations", []):
        if violation.get("impact") in BLOCKING_IMPACTS:
            targets = [", ".join(n.get("target", [])) for n in violation.get("nodes", [])][:5]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


def assert_accessible(page: Any) -> None:
    violations = serious_violations(page)
    assert not violations, "axe-core found:\n" + "\n".join(violations)
