"""A fixed set of locks shared out by id: the same id always gets the same lock.

Per-participant locks without one lock object per participant ever seen: two participants may
share a stripe (and wait for each other briefly), one participant never has two locks.
"""

from __future__ import annotations

import threading
from uuid import UUID

DEFAULT_STRIPES = 64


class StripedLocks:
    def __init__(self, stripes: int = DEFAULT_STRIPES) -> None:
        if stripes < 1:
            raise ValueError("stripes must be at least 1")
        self._locks = tuple(threading.Lock() for _ in range(stripes))

    def of(self, key: UUID) -> threading.Lock:
        """The lock for `key`."""
        return self._locks[key.int % len(self._locks)]
