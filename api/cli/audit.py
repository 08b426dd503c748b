"""`continuum verify` and `continuum export`: tamper evidence from the shell.

    continuum verify --participant ID   recompute one participant's hash chain
    continuum verify --all              every stream in the log (progress on stderr)
    continuum export (--participant ID | --all) --format jsonl [--output FILE [--force]]
                                        the raw streams with their hashes, one JSON object a
                                        line; FILE is created new, mode 0600 (--force replaces)
    continuum export --format fhir-ndjson --output DIR [--participant ID]
                                        FHIR R4 resources of every participant (or one), one
                                        NDJSON file per resource type (api.cli.fhir_export)

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

from api.bootstrap import open_service
from api.cli.export import StreamUnreadable, export_stream, output_file, streams_in_log
from api.cli.fhir_export import export_fhir_ndjson
from api.cli.parsing import EXIT_REFUSED, CommandFailed
from api.cli.progress import Progress
from api.logging import configure_logging
from api.settings import Settings
from domain.application import ContinuumApplication
from domain.chain import ChainReport
from domain.errors import ParticipantNotFound


def register(commands: Any) -> None:
    """Add `verify` and `export` to the `continuum` parser's subparsers."""
    verify = commands.add_parser("verify", help="recompute hash chains; name the first break")
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every stream in the log")
    which.add_argument("--participant", type=UUID, metavar="ID", help="one participant")
    verify.set_defaults(run=verify_command)

    export = commands.add_parser(
        "export", help="write raw streams with their hashes, or FHIR R4 NDJSON files"
    )
    # jsonl needs one of the two; fhir-ndjson exports every participant unless --participant.
    streams = export.add_mutually_exclusive_group()
    streams.add_argument("--participant", type=UUID, metavar="ID", help="one participant")
    streams.add_argument("--all", action="store_true", help="every stream in the log")
    export.add_argument(
        "--format", choices=["jsonl", "fhir-ndjson"], default="jsonl", help="the file format"
    )
    export.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help="jsonl: a new file, created mode 0600 (none: stdout); "
        "fhir-ndjson: a directory (required)",
    )
    export.add_argument(
        "--force", action="store_true", help="replace --output if it exists (never through a link)"
    )
    export.set_defaults(run=export_command)


@contextmanager
def _application() -> Iterator[ContinuumApplication]:
    settings = Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    # No aggregate cache: every check reads the stored rows.
    with open_service(settings, aggregate_cache=False) as service:
        yield service.application


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
    bar = Progress("verify: log position", out=err)
    streams = events = 0
    broken: list[ChainReport] = []
    for report in application.verify_all(lambda _streams, position: bar(position, head)):
        streams += 1
        events += report.events
        if not report.ok:
            broken.append(report)
            print(report.describe(), file=out)
    bar.close()
    elapsed = time.perf_counter() - started
    err.write(
        f"verify: {streams} streams, {events} events in {elapsed:.1f}s "
        f"({events / max(elapsed, 1e-9):,.0f} events/s)\n"
    )
    if broken:
        print(f"{len(broken)} of {streams} streams BROKEN", file=out)
        return 1
    print(f"{streams} streams, {events} events: all intact", file=out)
    return 0


# ---- export -----------------------------------------------------------------------------------


def export_command(args: argparse.Namespace) -> int:
    """Write one participant's stream, or every stream, as JSON lines to --output (or stdout)."""
    if args.format == "fhir-ndjson":
        return _export_fhir(args)
    if args.participant is None and not args.all:
        raise CommandFailed("--format jsonl needs --participant ID or --all")
    # The destination is checked (and created, empty, mode 0600) before the store is opened.
    with output_file(args.output, force=args.force) as out, _application() as application:
        if args.all:
            streams = written = 0
            for originator_id in streams_in_log(application):
                written += _export_one(application, originator_id, out)
                streams += 1
            print(f"exported {written} events of {streams} streams", file=sys.stderr)
            return 0
        try:
            written = _export_one(application, args.participant, out)
        except ParticipantNotFound:
            raise CommandFailed(f"no participant {args.participant}") from None
    print(f"exported {written} events of {args.participant}", file=sys.stderr)
    return 0


def _export_one(application: ContinuumApplication, originator_id: UUID, out: TextIO) -> int:
    written = 0
    try:
        for line in export_stream(application, originator_id):
            out.write(f"{line}\n")
            written += 1
    except StreamUnreadable as error:
        raise CommandFailed(
            f"stream {originator_id}: {error}; run `continuum verify`", EXIT_REFUSED
        ) from None
    return written


def _export_fhir(args: argparse.Namespace) -> int:
    if args.output is None:
        raise CommandFailed("--format fhir-ndjson needs --output DIR")
    with _application() as application:
        try:
            which = None if args.participant is None else [args.participant]
            counts = export_fhir_ndjson(application, args.output, which)
        except ParticipantNotFound:
            raise CommandFailed(f"no participant {args.participant}") from None
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    print(f"exported {summary} to {args.output}", file=sys.stderr)
    return 0
