"""The public id of a participant's event: a UUID derived from the stream id and version.

Derived rather than stored, so every event has one, including events stored before ids were
shown, and any reader (a view, an export) can compute it without reading the event.
"""

from __future__ import annotations

from hashlib import sha1
from uuid import UUID, uuid5

EVENT_ID_NAMESPACE = UUID("6f1d3c1e-0b7a-4c52-9a49-3c7f3e0f6a10")
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def event_id_for(participant_id: UUID, version: int) -> UUID:
    """The stable public id of the event at `version` in a participant's stream."""
    return uuid5(EVENT_ID_NAMESPACE, f"{participant_id}/{version}")


def event_id_text(participant_id: UUID | str, version: int) -> str:
    """`str(event_id_for(participant_id, version))`, spelled from the SHA-1 digest directly
    (the participant id as a UUID, or as its canonical text when the caller has that already).

    Every event applied (on replay too) files its id as text; building a UUID object only to
    print it was a measurable share of replays and rebuilds.
    """
    digest = bytearray(sha1(_NAMESPACE_BYTES + f"{participant_id}/{version}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
