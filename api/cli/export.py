"""An auditor's export of one stream: the stored events as plain JSON lines, with their hashes.

Each line is one event: `topic`, `originator_id`, `originator_version`, `timestamp`, every
other stored field, `previous_hash` and `event_hash`, in the chain's canonical form
(`domain.chain.canonical_json`: sorted keys, no whitespace, ISO 8601 times, UUIDs as text).
Datetimes are plain ISO strings, not the library's `{"_type_": ..., "_data_": ...}` wrappers,
so a third party re-verifies the chain with `json` and `hashlib` alone (README, "Verifying an
export"): drop `event_hash`, dump the rest the same way, sha256 it. An encrypted store is
exported decrypted: the hashes were taken over the plaintext fields.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

from api.cli.parsing import CommandFailed
from domain.application import ContinuumApplication
from domain.chain import canonical_json, event_content
from domain.errors import ParticipantNotFound


class StreamUnreadable(Exception):
    """A stored event could not be decoded (wrong key, edited ciphertext): run verify."""

    def __init__(self, version: int, cause: str) -> None:
        super().__init__(f"the event at version {version} cannot be decoded ({cause})")
        self.version = version


def export_line(topic: str, state: Mapping[str, Any]) -> str:
    """One event as the line a third party re-hashes: its content plus both chain fields."""
    line = event_content(topic, state)
    line["previous_hash"] = state.get("previous_hash")
    line["event_hash"] = state.get("event_hash")
    return canonical_json(line)


def export_stream(application: ContinuumApplication, originator_id: UUID) -> Iterator[str]:
    """The stream's lines in version order, read from the stored rows (not the cache)."""
    rows = application.recorder.select_events(originator_id)
    if not rows:
        raise ParticipantNotFound(f"no participant {originator_id}")
    for row in rows:
        try:
            event = application.mapper.to_domain_event(row)
        except Exception as error:  # the class name only: messages may quote stored content
            cause = error.__cause__ or error
            raise StreamUnreadable(row.originator_version, type(cause).__name__) from error
        yield export_line(row.topic, vars(event))


# Streams are found by scanning the log in batches of this many notifications.
SCAN_BATCH = 5000


def streams_in_log(application: ContinuumApplication) -> Iterator[UUID]:
    """Every stream's id, once, in the order the streams first appear in the log."""
    seen: set[UUID] = set()
    position = 0
    while batch := application.recorder.select_notifications(
        start=position, limit=SCAN_BATCH, inclusive_of_start=False
    ):
        for notification in batch:
            originator_id = UUID(str(notification.originator_id))
            if originator_id not in seen:
                seen.add(originator_id)
                yield originator_id
        position = batch[-1].id


# Owner read/write only: the export holds protected health information (HIPAA's access
# control safeguard, 45 CFR 164.312(a)(1)), whatever the operator's umask.
EXPORT_FILE_MODE = 0o600


@contextmanager
def output_file(path: Path | None, *, force: bool) -> Iterator[TextIO]:
    """Where an export is written: stdout, or a file created for it, mode 0600.

    An existing file is refused unless `force`, and then replaced whole by a rename, so a
    symbolic link at `path` is replaced itself rather than followed (O_EXCL and O_NOFOLLOW
    refuse one otherwise). If the export fails, the file is removed.
    """
    if path is None:
        yield sys.stdout
        return
    if not path.parent.is_dir():
        raise CommandFailed(
            f"--output: the directory {path.parent} does not exist; create it or choose another"
        )
    target = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial") if force else path
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        descriptor = os.open(target, flags, EXPORT_FILE_MODE)
    except FileExistsError:
        raise CommandFailed(
            f"--output: {path} already exists; choose a new file, or --force to replace it"
        ) from None
    except OSError as error:
        raise CommandFailed(f"--output: cannot create {path} ({error.strerror})") from None
    try:
        os.fchmod(descriptor, EXPORT_FILE_MODE)  # the umask may have taken bits off; exact
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            yield out
        if force:
            try:
                os.replace(target, path)
            except OSError as error:
                raise CommandFailed(f"--output: cannot replace {path} ({error.strerror})") from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
