"""Concurrent reads of one key share a load that started after each of them arrived.

A read of a participant must see every write acknowledged before the read began, so it asks
the store for events after the cached version (a round trip). When many reads of the same
participant arrive together (a caseload opened by a team, a load balancer's retries), each
doing its own round trip one after the other (the library fast-forwards one at a time) adds
their queueing to every read. Here a read joins the next load to *start*; that load began
after the read arrived, so it is as fresh as the read's own would have been. At most one
load per key runs at a time, and a burst of N reads costs two loads, not N.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Key(Generic[T]):
    """One key's loads: how many started and finished, and the last one's result."""

    def __init__(self, key: Hashable, lock: threading.Lock) -> None:
        self.key = key
        self.changed = threading.Condition(lock)
        self.started = 0
        self.finished = 0
        self.running = False
        self.readers = 0
        self.failed = False
        self.result: T | None = None


class FreshReads(Generic[T]):
    """`read(key, load)`: `load()`'s result, from a call that began after this read did.

    A load that raises is not shared: its leader gets the error, and each read that waited
    for it loads on its own (a missing record or a dropped connection then surfaces in each
    read's own terms).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[Hashable, _Key[T]] = {}

    def read(self, key: Hashable, load: Callable[[], T]) -> T:
        with self._lock:
            state = self._keys.get(key)
            if state is None:
                state = self._keys[key] = _Key(key, self._lock)
            state.readers += 1
            needed = state.started + 1  # the first load to start after this read arrived
            leads = False
            try:
                while state.finished < needed:
                    if not state.running:
                        state.running = leads = True
                        state.started += 1
                        break
                    state.changed.wait()
            except BaseException:
                self._leave(state)
                raise
            if not leads:
                failed, result = state.failed, state.result
                self._leave(state)
                if not failed:
                    return result  # type: ignore[return-value]  # set when not failed
        if not leads:  # the load this read waited for failed: it loads on its own
            return load()
        # This read leads a load; the reads waiting for one after theirs share its result.
        try:
            result = load()
        except BaseException:
            self._finish(state, failed=True, result=None)
            raise
        self._finish(state, failed=False, result=result)
        return result

    def _finish(self, state: _Key[T], *, failed: bool, result: T | None) -> None:
        with self._lock:
            state.running = False
            state.finished = state.started
            state.failed, state.result = failed, result
            state.changed.notify_all()
            self._leave(state)

    def _leave(self, state: _Key[T]) -> None:
        """Called under the lock as each read is done with the key."""
        state.readers -= 1
        if state.readers == 0 and not state.running:
            # Nobody waits on this key: forget it, and the result it still references.
            del self._keys[state.key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)
