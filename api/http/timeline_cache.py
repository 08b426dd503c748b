"""Rendered read bodies kept as JSON bytes per key and version: timelines and compliance reports.

A stream is append-only, so the timeline at a version never changes: a version names its
content for good, and a newer version is simply another key. Rendering a long timeline (decode
every event, build and serialise a model per entry) costs tens of milliseconds; a cached read
only has to learn the current version, which the read's own participant lookup already did.
A compliance report is named the same way by what it is computed from (see
api.routes.views). Only the newest rendered version of each key is kept, and the whole cache
is bounded by its bytes (least recently used first out).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from datetime import date
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from api.schemas.participants import Timeline, TimelineEvent
from domain.application import ContinuumApplication
from domain.service.striped_locks import StripedLocks

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class _Ordered(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=_Ordered)


class RenderedCache(Generic[K, V]):
    """A thread-safe LRU of rendered bodies, one version per key, bounded by total bytes."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[K, tuple[V, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._render_locks = StripedLocks()

    def get(self, key: K, version: V) -> bytes | None:
        """The body rendered at exactly `version`, if it is cached."""
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != version:
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: K, version: V, body: bytes) -> None:
        """Keep `body` as the one at `version` (an older version's is replaced)."""
        if len(body) > self.max_bytes:
            return
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                if version < found[0]:
                    return  # a concurrent read already rendered a newer version
                self._bytes -= len(found[1])
            self._entries[key] = (version, body)
            self._entries.move_to_end(key)
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= len(evicted)

    def rendering(self, participant_id: UUID) -> threading.Lock:
        """The lock a reader holds while rendering a body of this participant's."""
        return self._render_locks.of(participant_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# A participant's timeline, by stream version.
TimelineCache = RenderedCache[UUID, int]
# A participant's compliance report as of a day, by what it is computed from: the views'
# position, the participant's stream version and the program policy's stream version.
ComplianceCache = RenderedCache[tuple[UUID, date], tuple[int, int, int]]


def render_timeline(application: ContinuumApplication, participant_id: UUID) -> tuple[int, bytes]:
    """(the stream version it was read at, the timeline's JSON) from the stored stream."""
    entries = application.timeline(participant_id)
    version = max(entry.event.originator_version for entry in entries)
    timeline = Timeline(
        participant_id=participant_id,
        events=[TimelineEvent.of(entry) for entry in entries],
    )
    return version, timeline.model_dump_json().encode()


def cached_timeline(
    cache: TimelineCache,
    application: ContinuumApplication,
    participant_id: UUID,
    version: int,
) -> bytes:
    """The timeline at `version` (the participant's current version, as the read found it).

    On a miss the stream is read afresh; it may have grown since `version` was learned, so the
    rendering is filed under the version it was actually read at.
    """
    body = cache.get(participant_id, version)
    if body is not None:
        return body
    # One render per participant at a time: the reads that missed together (after a write, or
    # at start) wait for the first one's rendering instead of each repeating it.
    with cache.rendering(participant_id):
        body = cache.get(participant_id, version)
        if body is None:
            read_at, body = render_timeline(application, participant_id)
            cache.put(participant_id, read_at, body)
    return body
