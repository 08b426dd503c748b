"""`continuum rebuild [--verify]` and `continuum project [--once]`: the views from the shell.

    continuum rebuild            drop every view and replay the log from position 0
    continuum rebuild --verify   rebuild into fresh tables and compare digests with the live views
                                 (exit 0 identical, 1 different)
    continuum project [--once]   catch the views up, then (without --once) follow new events:
                                 what a separate projection process runs

Progress (rate and time left) goes to stderr: a bar on a terminal, plain lines elsewhere. A
rebuild killed midway resumes from its tracked position with `continuum project --once` (or
any runner): rows and position commit together.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from api.bootstrap import Service, open_service
from api.cli.progress import Progress
from api.logging import configure_logging
from api.settings import Settings
from api.storage.views import Views
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


@contextmanager
def _opened() -> Iterator[Service]:
    settings = Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    # open_service decodes the first and last stored events with the configured key before
    # anything is dropped: a wrong or missing key stops here with every view untouched.
    with open_service(settings) as service:
        yield service


def rebuild_command(args: argparse.Namespace) -> int:
    """Drop and replay the live views, or (--verify) compare them with a fresh rebuild."""
    with _opened() as service:
        if args.verify:
            return _verify(service, service.views)
        views = service.views
        views.runner.batch_size = REBUILD_BATCH_SIZE
        bar = Progress("rebuild")
        views.runner.rebuild(progress=bar)
        bar.close()
    return 0


def _verify(service: Service, live: Views) -> int:
    fresh_store = service.view_store(VERIFY_VIEW_NAME)
    fresh = ViewRunner(
        service.application.recorder,
        service.application.mapper,
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
            bar = Progress("verify")
            fresh.rebuild(progress=bar, until=position)
            bar.close()
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
    with _opened() as service:
        views = service.views
        bar = Progress("catch-up", initial=views.store.position())
        views.runner.batch_size = REBUILD_BATCH_SIZE
        views.runner.catch_up(progress=bar)
        bar.close()
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
