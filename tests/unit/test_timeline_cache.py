"""The rendered-timeline cache: one version per participant, bounded by bytes."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import cast
from uuid import UUID, uuid4

import pytest

from api.http import timeline_cache as timeline_cache
from api.http.timeline_cache import TimelineCache, cached_timeline
from domain.application import ContinuumApplication


def test_a_cached_timeline_is_served_only_at_its_version() -> None:
    """A body cached at version 3 answers a read at version 3 and misses at version 4."""
    cache = TimelineCache()
    pid = uuid4()
    cache.put(pid, 3, b"v3")

    assert cache.get(pid, 3) == b"v3"
    assert cache.get(pid, 4) is None
    assert cache.get(uuid4(), 3) is None


def test_a_newer_version_replaces_an_older_one_but_not_the_reverse() -> None:
    """Version 4 replaces version 3; a late render of version 3 does not replace version 4."""
    cache = TimelineCache()
    pid = uuid4()
    cache.put(pid, 3, b"v3")
    cache.put(pid, 4, b"v4")
    cache.put(pid, 3, b"v3 again")

    assert cache.get(pid, 4) == b"v4"
    assert cache.get(pid, 3) is None
    assert len(cache) == 1


def test_the_least_recently_read_goes_first_when_full() -> None:
    """With room for two 10-byte bodies, adding a third evicts the one read least recently."""
    cache = TimelineCache(max_bytes=20)
    a, b, c = uuid4(), uuid4(), uuid4()
    cache.put(a, 1, b"a" * 10)
    cache.put(b, 1, b"b" * 10)
    cache.get(a, 1)
    cache.put(c, 1, b"c" * 10)

    assert cache.get(b, 1) is None
    assert cache.get(a, 1) == b"a" * 10
    assert cache.get(c, 1) == b"c" * 10


def test_a_body_larger_than_the_whole_cache_is_not_kept() -> None:
    """A body over the byte bound is served but never cached (it would evict everything)."""
    cache = TimelineCache(max_bytes=5)
    pid = uuid4()
    cache.put(pid, 1, b"123456")

    assert cache.get(pid, 1) is None


def test_reads_that_miss_together_render_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight reads of a cold timeline at once: one renders, the others wait and get its body."""
    renders: list[UUID] = []

    def slow_render(_application: object, participant_id: UUID) -> tuple[int, bytes]:
        renders.append(participant_id)
        time.sleep(0.05)
        return 7, b"rendered at 7"

    monkeypatch.setattr(timeline_cache, "render_timeline", slow_render)
    cache = TimelineCache()
    pid = uuid4()
    start = threading.Barrier(8)

    def read() -> bytes:
        start.wait()
        return cached_timeline(cache, cast(ContinuumApplication, None), pid, 7)

    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: read(), range(8)))
    assert bodies == [b"rendered at 7"] * 8
    assert renders == [pid]
