"""Every consent, level with the log: what a disclosure is decided with."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from domain.consent import Consent, ConsentBook, ConsentTerms
from domain.service.log_follower import LogFollower

CONSENT_TOPICS = (Consent.Granted.TOPIC, Consent.Revoked.TOPIC)


class ConsentFollower(LogFollower):
    """A `ConsentBook` kept level with the notification log, shared by a process's threads."""

    topics: ClassVar[tuple[str, ...]] = CONSENT_TOPICS

    def __init__(self) -> None:
        super().__init__()
        self._book = ConsentBook()

    def apply(self, event: Any) -> None:
        self._book.apply(event)

    def apply_at(self, event: Any, position: int) -> None:
        # The position of a revocation answers a retried revoke with the first one's receipt.
        self._book.apply(event, position)

    def permits(
        self, participant_id: UUID, recipient_id: str, event_type: str, at: datetime
    ) -> bool:
        with self.lock:
            return self._book.permits(participant_id, recipient_id, event_type, at)

    def of(self, participant_id: UUID) -> list[ConsentTerms]:
        with self.lock:
            return self._book.of(participant_id)

    def terms(self, consent_id: UUID) -> ConsentTerms | None:
        with self.lock:
            return self._book.terms(consent_id)
