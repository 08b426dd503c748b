"""`continuum rebuild [--verify]` and `continuum project [--once]`: the views from the shell.

    continuum rebuild            drop every view and replay the log from position 0
    continuum rebuild --verify   rebuild into fresh tables and compare digests with the live views
                                 (exit 0 identical, 1 different)
    continuum rebuild --workers N [--resume]
                                 replay with N processes, participants partitioned by id
                                 (api/cli/rebuilds.py); --resume carries on after a kill
    continuum rebuild --online   rebuild beside the live views, switch when caught up
    continuum project [--once]   catch the views up, then (without --once) follow new events:
                                 what a separate projection process runs
    continuum project --partition i/N
                                 the same for partition i of N only: N such processes (on
                                 one machine or several, against one PostgreSQL) keep the
                                 view together

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
from api.cli.rebuilds import RebuildError, online_rebuild, parallel_rebuild, view_runner
from api.logging import configure_logging
from api.settings import Settings
from api.storage.views import Views

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
    rebuild.add_argument(
        "--workers", type=positive_int, default=1,
        help="processes to replay with, participants partitioned by id",
    )  # fmt: skip
    rebuild.add_argument(
        "--resume", action="store_true",
        help="carry on an interrupted `rebuild --workers N` (same N) instead of starting over",
    )  # fmt: skip
    rebuild.add_argument(
        "--online", action="store_true",
        help="rebuild beside the live views while they keep serving, then switch to the new "
        "ones in one transaction",
    )  # fmt: skip
    rebuild.set_defaults(run=rebuild_command)
    project = commands.add_parser("project", help="keep the views caught up with the log")
    project.add_argument("--once", action="store_true", help="catch up, then exit")
    project.add_argument(
        "--partition", type=partition_arg, metavar="I/N",
        help="keep only partition I of N (0 <= I < N) of the participants",
    )  # fmt: skip
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
    chosen = [flag for flag in ("verify", "online", "resume") if getattr(args, flag)]
    if len(chosen) > 1:
        print(f"continuum rebuild: choose one of --{' / --'.join(chosen)}", file=sys.stderr)
        return 2
    if args.verify and args.workers > 1:
        print("continuum rebuild: --verify rebuilds with one worker", file=sys.stderr)
        return 2
    with _opened() as service:
        if args.verify:
            return _verify(service, service.views)
        try:
            if args.online:
                position = online_rebuild(
                    service, batch_size=REBUILD_BATCH_SIZE, workers=args.workers
                )
                print(f"switched to the rebuilt views at position {position}", file=sys.stderr)
            elif args.workers > 1 or args.resume:
                position = parallel_rebuild(
                    service, args.workers, batch_size=REBUILD_BATCH_SIZE, resume=args.resume
                )
                print(f"views whole at position {position}", file=sys.stderr)
            else:
                views = service.views
                views.runner.batch_size = REBUILD_BATCH_SIZE
                bar = Progress("rebuild")
                views.runner.rebuild(progress=bar)
                bar.close()
        except RebuildError as error:
            print(f"continuum rebuild: {error}", file=sys.stderr)
            return 1
    return 0


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def partition_arg(text: str) -> tuple[int, int]:
    """`I/N` -> (I, N), with 0 <= I < N."""
    index, _, count = text.partition("/")
    try:
        parsed = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError("must be I/N, e.g. 0/4") from None
    if not 0 <= parsed[0] < parsed[1]:
        raise argparse.ArgumentTypeError("needs 0 <= I < N")
    return parsed


def _verify(service: Service, live: Views) -> int:
    fresh_store = service.view_store(VERIFY_VIEW_NAME)
    fresh = view_runner(service, fresh_store, REBUILD_BATCH_SIZE)
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
        views = (
            service.views
            if args.partition is None
            else service.open_views(partition=args.partition)
        )
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
