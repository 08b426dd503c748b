"""A `continuum rebuild` killed with SIGKILL midway, then resumed, equals a clean rebuild."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from api.bootstrap import Service
from api.seed.synthetic_log import write_log
from domain.application import ContinuumApplication
from projections.view_store import ViewRow

REPO = Path(__file__).resolve().parents[2]
# Enough events that a rebuild commits many batches over a few seconds.
PARTICIPANTS, EVENTS_EACH = 100, 350


def continuum(url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CONTINUUM_DATABASE_URL": url, "CONTINUUM_LOG_FORMAT": "console"}
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    process = continuum(url, *args)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_a_rebuild_killed_midway_then_resumed_equals_a_clean_rebuild(
    url: str, service: Service, app: ContinuumApplication
) -> None:
    """Given a log of ~35k events and caught-up views, when `continuum rebuild` is killed
    with SIGKILL while its tracked position is past 0 and short of the head, and then
    `continuum project --once` runs, then the views reach the head and `continuum rebuild
    --verify` (a clean rebuild into fresh tables) finds them identical."""
    write_log(app, participants=PARTICIPANTS, events_per_participant=EVENTS_EACH)
    head = app.recorder.max_notification_id()
    assert head is not None and head >= 30_000
    views = service.view_store()

    rebuild = continuum(url, "rebuild")
    killed_at = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and rebuild.poll() is None:
        position = views.position()
        if 0 < position < head:
            rebuild.send_signal(signal.SIGKILL)
            killed_at = position
            break
        time.sleep(0.005)
    rebuild.communicate(timeout=30)
    assert killed_at is not None, "the rebuild finished before it could be killed"
    assert rebuild.returncode == -signal.SIGKILL
    assert 0 < views.position() < head  # the kill left a partial rebuild behind

    resumed = run(url, "project", "--once")
    assert resumed.returncode == 0, resumed.stderr
    assert views.position() == head

    verified = run(url, "rebuild", "--verify")
    assert verified.returncode == 0, verified.stderr
    assert "identical" in verified.stdout


def test_verify_reports_views_that_differ_from_a_clean_rebuild(
    url: str, service: Service, app: ContinuumApplication
) -> None:
    """Given caught-up views with one row altered behind the runner's back, when `continuum
    rebuild --verify` runs, then it exits 1 and says the views differ."""
    write_log(app, participants=3, events_per_participant=10)
    views = service.view_store()
    assert run(url, "project", "--once").returncode == 0
    position, rows = views.position(), list(views.all_rows())
    altered = ViewRow(rows[0].participant_id, rows[0].program_id, "discharged", None, "{}")
    views.drop_tables()  # rewrite the same position with one row altered
    views.commit([altered, *rows[1:]], position)

    verified = run(url, "rebuild", "--verify")

    assert verified.returncode == 1
    assert "differ" in verified.stderr
