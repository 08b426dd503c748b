"""A limit on failed authentications per source address (OWASP Authentication Cheat Sheet:
throttle repeated failures so tokens cannot be tried at speed).

After `limit` failures from one address within `window` seconds, that address is answered 429
with Retry-After until its oldest failure leaves the window; a token verified before still
passes (it costs no verification and proves nothing new). Counted per server process: with
`serve --workers N` an address may fail up to N x limit times per window. Behind a reverse
proxy every caller shares the proxy's address, so the limit should then be raised.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

# Addresses remembered at once; the least recently failing are forgotten first.
MAX_ADDRESSES = 10_000


class TooManyFailedAuthentications(Exception):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("too many failed authentications")
        self.retry_after_seconds = retry_after_seconds


class FailedAuthLimiter:
    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        """Raise TooManyFailedAuthentications while `address` is over the limit."""
        with self._lock:
            failures = self._recent(address)
            if failures is not None and len(failures) >= self.limit:
                wait = failures[0] + self.window - self._clock()
                raise TooManyFailedAuthentications(max(1, math.ceil(wait)))

    def failed(self, address: str) -> None:
        with self._lock:
            failures = self._recent(address) or deque()
            failures.append(self._clock())
            while len(failures) > self.limit:
                failures.popleft()
            self._failures[address] = failures
            self._failures.move_to_end(address)
            while len(self._failures) > MAX_ADDRESSES:
                self._failures.popitem(last=False)

    def _recent(self, address: str) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        horizon = self._clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures
