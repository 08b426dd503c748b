"""Concurrent reads' access entries are committed in groups: every read still waits for its
own entry, every entry is stored once with its own id, and a failed group fails every read in
it (none is served unlogged)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from uuid import uuid4

from api.bootstrap import open_url
from api.storage.access_log import (
    AccessEntry,
    AccessLogUnavailable,
    MemoryAccessLog,
)

READERS = 24


def entry(n: int) -> AccessEntry:
    return AccessEntry(
        at=datetime(2026, 3, 1, tzinfo=UTC), sub=f"reader-{n}", role="clinician",
        participant_id=uuid4(), record="timeline", endpoint="/v1/participants/{participant_id}",
        purpose="TREAT", request_id=f"req-{n}",
    )  # fmt: skip


def append_together(log: object, count: int) -> list[AccessEntry | BaseException]:
    start = threading.Barrier(count)

    def one(n: int) -> AccessEntry | BaseException:
        start.wait()
        try:
            return log.append(entry(n))  # type: ignore[attr-defined, no-any-return]
        except AccessLogUnavailable as error:
            return error

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_concurrent_entries_are_each_stored_once_with_their_own_id(database_url: str) -> None:
    service = open_url(database_url, pool_size=4)
    try:
        log = service.access_log
        appended = append_together(log, READERS)
        assert all(isinstance(a, AccessEntry) for a in appended), appended
        stored = {e.request_id: e for e in log.entries(limit=READERS * 2)}
        assert len(stored) == READERS
        for a in appended:
            assert isinstance(a, AccessEntry)
            assert stored[a.request_id] == a  # same id, same content
    finally:
        service.close()


class SlowMemoryAccessLog(MemoryAccessLog):
    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.groups: list[int] = []
        self.fail = fail

    def _insert_many(self, entries: Sequence[AccessEntry]) -> list[int]:
        self.groups.append(len(entries))
        time.sleep(0.02)  # a commit in flight while more reads arrive
        if self.fail:
            raise OSError("disk full")
        return super()._insert_many(entries)


def test_reads_arriving_during_a_commit_share_the_next_one() -> None:
    log = SlowMemoryAccessLog()
    appended = append_together(log, READERS)
    ids = [a.id for a in appended if isinstance(a, AccessEntry)]
    assert sorted(i for i in ids if i is not None) == list(range(1, READERS + 1))
    assert sum(log.groups) == READERS
    assert len(log.groups) < READERS  # grouped: fewer commits than reads


def test_a_failed_group_commit_fails_every_read_in_it() -> None:
    log = SlowMemoryAccessLog(fail=True)
    appended = append_together(log, READERS)
    assert all(isinstance(a, AccessLogUnavailable) for a in appended)
    assert log.entries() == []
