"""`continuum rotate-key`: move a store to a new CONTINUUM_CIPHER_KEY.

    CONTINUUM_CIPHER_KEY=OLD continuum rotate-key --new-key NEW [--batch N]

Stop every server, relay and projection first: they write with the old key. The rotation
rewrites every event, snapshot and side-table cell in batches (api.storage.rotation), printing
its progress on stderr; killed at any point, the same command resumes it, and until it ends
every other command refuses the store. Then restart everything with CONTINUUM_CIPHER_KEY=NEW.
`--new-key -` reads the key from the first line of stdin, so it stays out of the process list.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from api.bootstrap import open_for_rotation
from api.cli.parsing import CommandFailed
from api.logging import configure_logging
from api.settings import Settings
from api.storage.cipher import check_cipher
from api.storage.migrations import migrate
from api.storage.rotation import rotate, unfinished_rotation

DEFAULT_BATCH = 500


def register(commands: Any) -> None:
    rotate_key = commands.add_parser(
        "rotate-key", help="re-encrypt the store under a new key (resumable; servers stopped)"
    )
    rotate_key.add_argument(
        "--new-key",
        required=True,
        metavar="KEY",
        help="the new base64 key (`continuum cipher-key` makes one); - reads it from stdin",
    )
    rotate_key.add_argument(
        "--batch", type=int, default=DEFAULT_BATCH, help="rows rewritten per transaction"
    )
    rotate_key.set_defaults(run=rotate_key_command)


def rotate_key_command(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    if args.batch < 1:
        raise CommandFailed("--batch must be at least 1")
    new_key = sys.stdin.readline().strip() if args.new_key == "-" else args.new_key
    with open_for_rotation(settings) as service:
        if service.db is None:
            raise CommandFailed(
                "an in-memory store keeps nothing at rest: there is no key to rotate"
            )
        db, tables = service.db
        if unfinished_rotation(db, tables) is None:
            # A fresh start: the old key must read the store, and its tables be this release's.
            check_cipher(service.application, encrypted=service.store.encrypted)
            migrate(db, tables, service.cells)

        def progress(table: str, rows: int) -> None:
            print(f"rotate-key: {table}: {rows} rows rewritten", file=sys.stderr, flush=True)

        report = rotate(
            db,
            tables,
            service.cells,
            new_key,
            settings.cipher_key or "",
            service.application.mapper,
            batch=args.batch,
            progress=progress,
        )
    done = ", ".join(f"{table} {rows}" for table, rows in report.rewritten.items())
    print(f"rotate-key: {'resumed and ' if report.resumed else ''}done ({done})")
    print("rotate-key: restart everything with CONTINUUM_CIPHER_KEY set to the new key")
    return 0
