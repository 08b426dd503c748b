"""`continuum rebuild [--verify]` and `continuum project [--once]`: the views from the shell.

    continuum rebuild            drop every view and replay the log from position 0
    continuum rebuild --verify   rebuild into fresh tables and compare digests with the live views
                                 (exit 0 identical, 1 different)
    continuum project [--once]   catch the views up, then (without --once) follow new events:
                                 what a separate projection process runs

Progress goes to stderr as a plain text bar. A rebuild killed midway resumes from its tracked
position with `continuum project --once` (or any runner): rows and position commit together.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from api.logging import configure_logging
from api.settings import Settings
from api.storage.store_url import Store, parse_store_url
from api.storage.views import Views, open_view_store, open_views
from domain.application import ContinuumApplication
from projections.participant_view import ParticipantViewFold
from projections.runner import ViewRunner

# A rebuild reads and commits this many events per transaction (fewer round trips than live).
REBUILD_BATCH_SIZE = 10000
VERIFY_VIEW_NAME = "participant_views_verify"
# The live views may move on while --verify compares (a server is running): compare again.
VERIFY_ATTEMPTS = 3


def register(commands: Any) -> None:
    """Add the view subcommands to the `continuum` parser's subparsers."""
    rebuild = commands.add_parser("rebuild", help="drop and replay every view from position 0")
    rebuild.add_argument(
        "--verify",
        action="store_true",
        help="rebuild into fresh tables and compare with the live views instead (exit 1 if not "
        "identical)",
    )
    rebuild.set_defaults(run=rebuild_command)
    project = commands.add_parser("project", help="keep the views caught up with the log")
    project.add_argument("--once", action="store_true", help="catch up, then exit")
    project.set_defaults(run=project_command)


class ProgressBar:
    """`[#####.....] position/head  NN%  N events/s` on one stderr line, redrawn at most 5x/s."""

    WIDTH = 30

    def __init__(self, label: str, start: int = 0, out: TextIO = sys.stderr) -> None:
        self.label = label
        self.out = out
        self.started = time.perf_counter()
        self.start_position = start
        self.drawn_at = 0.0
        self.position = start

    def __call__(self, position: int, head: int) -> None:
        self.position = position
        now = time.perf_counter()
        if now - self.drawn_at < 0.2 and position < head:
            return
        self.drawn_at = now
        share = position / head if head else 1.0
        filled = int(self.WIDTH * share)
        rate = (position - self.start_position) / max(now - self.started, 1e-9)
        self.out.write(
            f"\r{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{position}/{head} {share:4.0%} {rate:,.0f} events/s"
        )
        self.out.flush()

    def done(self) -> None:
        elapsed = time.perf_counter() - self.started
        self.out.write(f"\n{self.label}: position {self.position} in {elapsed:.1f} s\n")
        self.out.flush()


@contextmanager
def _opened() -> Iterator[tuple[ContinuumApplication, Store, Views]]:
    settings = Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    store = parse_store_url(settings.database_url)
    application = ContinuumApplication(env=store.settings)
    try:
        yield application, store, open_views(application, store)
    finally:
        application.close()


def rebuild_command(args: argparse.Namespace) -> int:
    """Drop and replay the live views, or (--verify) compare them with a fresh rebuild."""
    with _opened() as (application, store, views):
        if args.verify:
            return _verify(application, store, views)
        views.runner.batch_size = REBUILD_BATCH_SIZE
        bar = ProgressBar("rebuild")
        views.runner.rebuild(progress=bar)
        bar.done()
    return 0


def _verify(application: ContinuumApplication, store: Store, live: Views) -> int:
    fresh_store = open_view_store(application, store, VERIFY_VIEW_NAME)
    fresh = ViewRunner(
        application.recorder,
        application.mapper,
        fresh_store,
        ParticipantViewFold(),
        batch_size=REBUILD_BATCH_SIZE,
    )
    try:
        live_digest = fresh_digest = ""
        for _attempt in range(VERIFY_ATTEMPTS):
            # Digests include the position: catch the live views up first, then rebuild to
            # exactly where they stand, so both describe the same prefix of the log.
            position = live.runner.catch_up()
            bar = ProgressBar("verify")
            fresh.rebuild(progress=bar, until=position)
            bar.done()
            live_digest, fresh_digest = live.store.digest(), fresh_store.digest()
            if live_digest == fresh_digest or live.store.position() == position:
                break
        if live_digest != fresh_digest:
            print(
                f"continuum: the live views differ from a clean rebuild at position "
                f"{live.store.position()} (live {live_digest[:12]}, rebuilt {fresh_digest[:12]}); "
                "run `continuum rebuild`",
                file=sys.stderr,
            )
            return 1
        print(f"views identical to a clean rebuild at position {position} ({live_digest[:12]})")
        return 0
    finally:
        fresh_store.remove_tables()


def project_command(args: argparse.Namespace) -> int:
    """Catch the views up; without --once keep following until SIGTERM or SIGINT."""
    with _opened() as (_application, _store, views):
        bar = ProgressBar("catch-up", start=views.store.position())
        views.runner.batch_size = REBUILD_BATCH_SIZE
        views.runner.catch_up(progress=bar)
        bar.done()
        if args.once:
            return 0
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        views.start()
        print("following new events (Ctrl-C stops)", file=sys.stderr)
        stopping.wait()
        views.stop()
    return 0
