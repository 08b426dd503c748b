"""One way to keep an in-memory fold level with the notification log.

A follower reads the notifications after the position it reached (only the topics its fold
needs), decodes each, applies it, and remembers the new position; the next catch-up reads only
what was recorded since. One lock guards the fold and the position, so a process's threads
share one follower. The feed's consents and programs follow the log this way; the participant
views (projections.runner) commit their position with their rows instead.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper

# The events followed are rare among the log's (consents, admissions): large steps.
FOLLOW_BATCH = 5000


class LogFollower(ABC):
    """A fold of the `topics` events, level with the log up to the last catch-up."""

    topics: ClassVar[tuple[str, ...]]

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._position = 0

    @abstractmethod
    def apply(self, event: Any) -> None:
        """Fold one decoded event in (called with the lock held, in log order)."""

    def apply_at(self, event: Any, position: int) -> None:
        """`apply`, for folds that also keep the event's log position."""
        self.apply(event)

    def catch_up(
        self, recorder: ApplicationRecorder, mapper: Mapper[UUID], stop: int | None = None
    ) -> int:
        """Apply every followed event up to `stop` (default: the log's head); the position."""
        with self.lock:
            end = (recorder.max_notification_id() or 0) if stop is None else stop
            while self._position < end:
                batch = recorder.select_notifications(
                    start=self._position,
                    limit=FOLLOW_BATCH,
                    stop=end,
                    topics=self.topics,
                    inclusive_of_start=False,
                )
                for notification in batch:
                    self.apply_at(mapper.to_domain_event(notification), notification.id)
                # A short batch means nothing more up to `end`: positions between are not ours.
                self._position = end if len(batch) < FOLLOW_BATCH else batch[-1].id
            return self._position
