"""`continuum verify` and `continuum export`: tamper evidence from the shell.

    continuum verify --participant ID   recompute one participant's hash chain
    continuum verify --all              every stream in the log (progress on stderr)
    continuum export --participant ID --format jsonl [--output FILE]
                                        the raw stream with its hashes, one JSON object a line
    continuum export --format fhir-ndjson --output DIR [--participant ID]
                                        FHIR R4 resources, one NDJSON file per resource type

verify exits 0 when every stream checked is intact, 1 when any is broken (each broken stream
is named on stdout with its first broken link), 2 for bad usage or an unknown participant.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

from api.cli.export import StreamUnreadable, export_stream
from api.cli.fhir_export import export_fhir_ndjson
from api.logging import configure_logging
from api.settings import Settings
from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication
from domain.chain import ChainReport
from domain.errors import ParticipantNotFound

# Redraw the --all progress line at most this often.
PROGRESS_INTERVAL_SECONDS = 0.2


def register(commands: Any) -> None:
    """Add `verify` and `export` to the `continuum` parser's subparsers."""
    verify = commands.add_parser("verify", help="recompute hash chains; name the first break")
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every stream in the log")
    which.add_argument("--participant", type=UUID, metavar="ID", help="one participant")
    verify.set_defaults(run=verify_command)

    export = commands.add_parser(
        "export", help="write a participant's raw stream with hashes, or FHIR NDJSON files"
    )
    export.add_argument(
        "--participant",
        type=UUID,
        metavar="ID",
        help="the participant (required for jsonl; fhir-ndjson: default every participant)",
    )
    export.add_argument("--format", choices=["jsonl", "fhir-ndjson"], default="jsonl")
    export.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help="jsonl: a file (default stdout); fhir-ndjson: a directory (required)",
    )
    export.set_defaults(run=export_command)


@contextmanager
def _application() -> Iterator[ContinuumApplication]:
    settings = Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    store = parse_store_url(settings.database_url, cipher_key=settings.cipher_key)
    # No aggregate cache: every check reads the stored rows.
    application = ContinuumApplication(env={**store.settings, "AGGREGATE_CACHE_MAXSIZE": ""})
    try:
        yield application
    finally:
        application.close()


# ---- verify -----------------------------------------------------------------------------------


def verify_command(args: argparse.Namespace) -> int:
    """Verify one participant's stream or every stream; exit 1 if any is broken."""
    with _application() as application:
        if args.participant is not None:
            try:
                report = application.verify_participant(args.participant)
            except ParticipantNotFound:
                print(f"continuum: no participant {args.participant}", file=sys.stderr)
                return 2
            print(report.describe())
            return 0 if report.ok else 1
        return _verify_all(application, sys.stdout, sys.stderr)


def _verify_all(application: ContinuumApplication, out: TextIO, err: TextIO) -> int:
    head = application.recorder.max_notification_id() or 0
    started = time.perf_counter()
    drawn = 0.0

    def progress(streams: int, position: int) -> None:
        nonlocal drawn
        now = time.perf_counter()
        if now - drawn >= PROGRESS_INTERVAL_SECONDS or position >= head:
            drawn = now
            err.write(f"\rverify: {streams} streams, log position {position}/{head}")
            err.flush()

    streams = events = 0
    broken: list[ChainReport] = []
    for report in application.verify_all(progress):
        streams += 1
        events += report.events
        if not report.ok:
            broken.append(report)
            print(report.describe(), file=out)
    elapsed = time.perf_counter() - started
    err.write(
        f"\rverify: {streams} streams, {events} events in {elapsed:.1f}s "
        f"({events / max(elapsed, 1e-9):,.0f} events/s)\n"
    )
    if broken:
        print(f"{len(broken)} of {streams} streams BROKEN", file=out)
        return 1
    print(f"{streams} streams, {events} events: all intact", file=out)
    return 0


# ---- export -----------------------------------------------------------------------------------


def export_command(args: argparse.Namespace) -> int:
    """Write the participant's stream as JSON lines to --output (or stdout)."""
    if args.format == "fhir-ndjson":
        return _export_fhir(args)
    if args.participant is None:
        print("continuum export: --format jsonl needs --participant ID", file=sys.stderr)
        return 2
    with _application() as application:
        try:
            lines = list(export_stream(application, args.participant))
        except ParticipantNotFound:
            print(f"continuum: no participant {args.participant}", file=sys.stderr)
            return 2
        except StreamUnreadable as error:
            print(f"continuum: {error}; run `continuum verify`", file=sys.stderr)
            return 1
    text = "".join(f"{line}\n" for line in lines)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="ascii")
    print(f"exported {len(lines)} events of {args.participant}", file=sys.stderr)
    return 0


def _export_fhir(args: argparse.Namespace) -> int:
    if args.output is None:
        print("continuum export: --format fhir-ndjson needs --output DIR", file=sys.stderr)
        return 2
    with _application() as application:
        try:
            which = None if args.participant is None else [args.participant]
            counts = export_fhir_ndjson(application, args.output, which)
        except ParticipantNotFound:
            print(f"continuum: no participant {args.participant}", file=sys.stderr)
            return 2
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    print(f"exported {summary} to {args.output}", file=sys.stderr)
    return 0
