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

from collections.abc import Iterator, Mapping
from typing import Any
from uuid import UUID

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
