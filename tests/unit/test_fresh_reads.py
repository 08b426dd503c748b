"""Concurrent reads of one key share the next load to start, never one already running."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from domain.service.fresh_reads import FreshReads

WAIT = 5.0


class GatedLoads:
    """Loads that count themselves and, while `gate` is closed, block once started."""

    def __init__(self) -> None:
        self.count = 0
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self.count += 1
            number = self.count
        self.started.release()
        assert self.gate.wait(WAIT)
        return number


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def test_a_lone_read_loads_and_leaves_nothing_behind() -> None:
    """One read returns its own load's result; afterwards no key is kept."""
    reads: FreshReads[str] = FreshReads()

    assert reads.read("p", lambda: "state") == "state"
    assert len(reads) == 0


def test_reads_arriving_during_a_load_share_the_next_one_not_the_running_one() -> None:
    """Given a load in flight, reads that arrive meanwhile do not take its (possibly stale)
    result: they share one new load, started after they all arrived. Three reads, two loads."""
    reads: FreshReads[int] = FreshReads()
    loads = GatedLoads()
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(reads.read, "p", loads)
        assert loads.started.acquire(timeout=WAIT)  # load 1 is running
        later = [pool.submit(reads.read, "p", loads) for _ in range(2)]
        wait_until(lambda: reads._keys["p"].readers == 3, "the later reads to wait")
        loads.gate.set()

        assert first.result(WAIT) == 1
        assert [f.result(WAIT) for f in later] == [2, 2]
    assert loads.count == 2
    assert len(reads) == 0


def test_a_failed_load_is_not_shared() -> None:
    """The read that led a failing load gets its error; a read that waited for it loads on
    its own and gets its own result."""
    reads: FreshReads[str] = FreshReads()
    release = threading.Event()
    started = threading.Event()

    def failing() -> str:
        started.set()
        assert release.wait(WAIT)
        raise LookupError("no such participant")

    with ThreadPoolExecutor(2) as pool:
        # The first read waits for a load that another read leads and that fails.
        leader = pool.submit(reads.read, "p", failing)
        assert started.wait(WAIT)
        follower: Future[str] = pool.submit(reads.read, "p", lambda: "its own")
        wait_until(lambda: reads._keys["p"].readers == 2, "the follower to wait")
        release.set()

        with pytest.raises(LookupError):
            leader.result(WAIT)
        assert follower.result(WAIT) == "its own"
    assert len(reads) == 0


def test_keys_do_not_wait_for_each_other() -> None:
    """A load in flight for one key does not hold up a read of another."""
    reads: FreshReads[int] = FreshReads()
    loads = GatedLoads()
    with ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(reads.read, "p", loads)
        assert loads.started.acquire(timeout=WAIT)

        assert reads.read("q", lambda: 7) == 7

        loads.gate.set()
        assert blocked.result(WAIT) == 1
