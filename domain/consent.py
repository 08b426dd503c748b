"""Consent to disclose (42 CFR Part 2): one aggregate per consent, naming a participant and a
recipient, the kinds of events it covers and when it expires; a revocation ends it for good.

A consent is in force for a disclosure made at moment `at` when it was granted, is not revoked
and has not expired by `at`. The decision is always taken at disclosure time: an event recorded
while a consent was in force is still withheld once the consent is revoked or expired.

`ConsentBook` is the pure fold the feed decides with: every consent by participant
(domain.service.consents keeps one level with the log).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.chained import ChainedAggregate
from domain.errors import InvalidValue, ParticipantNotFound, RuleViolation
from domain.participant import Participant, check_aware, check_text

ALL_EVENTS = "all"
"""The scope entry that covers every kind of participant event."""


class ConsentAlreadyRevoked(RuleViolation):
    rule = "consent_already_revoked"


class ConsentNotFound(ParticipantNotFound):
    """No such consent for this participant: the not-found family (404)."""

    rule = "consent_not_found"


class Consent(ChainedAggregate):
    """The participant's written consent to disclose their records to one recipient."""

    TOPIC = "continuum.Consent"

    class Event(ChainedAggregate.Event):
        occurred_at: datetime
        recorded_by: str

    class Granted(Aggregate.Created, Event):
        TOPIC = "continuum.Consent.Granted.v1"
        participant_id: UUID
        recipient_id: str
        scope: list[str]
        expires_at: datetime

    Created = Granted

    class Revoked(Event):
        TOPIC = "continuum.Consent.Revoked.v1"
        reason: str

        def apply(self, consent: Consent) -> None:
            consent.revoked_at = self.timestamp
            consent.revocation_reason = self.reason

    def __init__(
        self,
        participant_id: UUID,
        recipient_id: str,
        scope: list[str],
        expires_at: datetime,
        occurred_at: datetime,
        recorded_by: str,
    ) -> None:
        self.participant_id = participant_id
        self.recipient_id = recipient_id
        self.scope = scope
        self.expires_at = expires_at
        self.signed_at = occurred_at
        self.granted_by = recorded_by
        self.revoked_at: datetime | None = None
        self.revocation_reason: str | None = None

    @classmethod
    def grant(
        cls,
        consent_id: UUID,
        *,
        participant_id: UUID,
        recipient_id: str,
        scope: Sequence[str],
        known_types: Iterable[str],
        expires_at: datetime,
        occurred_at: datetime,
        recorded_by: str,
        now: datetime,
    ) -> Consent:
        check_text(recipient_id, "recipient_id")
        check_aware(expires_at, "expires_at")
        check_aware(occurred_at, "signed_at")
        if expires_at <= now:
            raise InvalidValue("expires_at", "must be later than now")
        return cls._create(
            cls.Granted,
            id=consent_id,
            participant_id=participant_id,
            recipient_id=recipient_id,
            scope=parse_scope(scope, known_types),
            expires_at=expires_at,
            occurred_at=occurred_at,
            recorded_by=recorded_by,
            timestamp=now,
        )

    def revoke(self, *, reason: str, recorded_by: str, now: datetime) -> None:
        check_text(reason, "reason")
        if self.revoked_at is not None:
            raise ConsentAlreadyRevoked(f"consent {self.id} was already revoked")
        self.trigger_event(
            self.Revoked, reason=reason, occurred_at=now, recorded_by=recorded_by, timestamp=now
        )

    def in_force(self, at: datetime) -> bool:
        return self.revoked_at is None and at < self.expires_at

    def covers(self, event_type: str) -> bool:
        return ALL_EVENTS in self.scope or event_type in self.scope


def parse_scope(scope: Sequence[str], known_types: Iterable[str]) -> list[str]:
    """The scope as stored: `["all"]`, or a sorted list of known event type names."""
    if isinstance(scope, str) or not scope:
        raise InvalidValue("scope", 'must be a non-empty list of event types, or ["all"]')
    if ALL_EVENTS in scope:
        return [ALL_EVENTS]
    known = set(known_types)
    unknown = sorted(set(scope) - known)
    if unknown:
        raise InvalidValue("scope", f"unknown event types {unknown}; known: {sorted(known)}")
    return sorted(set(scope))


@dataclass(frozen=True)
class ConsentTerms:
    """What the feed needs to know of one consent."""

    consent_id: UUID
    participant_id: UUID
    recipient_id: str
    scope: tuple[str, ...]
    expires_at: datetime
    granted_at: datetime
    revoked_at: datetime | None = None
    revoked_position: int | None = None  # the revocation's log position, once folded

    def in_force(self, at: datetime) -> bool:
        revoked = self.revoked_at is not None and self.revoked_at <= at
        return self.granted_at <= at < self.expires_at and not revoked

    def covers(self, event_type: str) -> bool:
        return ALL_EVENTS in self.scope or event_type in self.scope


class ConsentBook:
    """Every consent, by participant: a pure fold of Consent events in log order."""

    def __init__(self) -> None:
        self._by_id: dict[UUID, ConsentTerms] = {}
        self._by_participant: dict[UUID, list[UUID]] = {}

    def apply(self, event: Any, position: int | None = None) -> None:
        if isinstance(event, Consent.Granted):
            self._by_id[event.originator_id] = ConsentTerms(
                consent_id=event.originator_id,
                participant_id=event.participant_id,
                recipient_id=event.recipient_id,
                scope=tuple(event.scope),
                expires_at=event.expires_at,
                granted_at=event.timestamp,
            )
            self._by_participant.setdefault(event.participant_id, []).append(event.originator_id)
        elif isinstance(event, Consent.Revoked):
            terms = self._by_id.get(event.originator_id)
            if terms is not None:
                self._by_id[event.originator_id] = replace(
                    terms, revoked_at=event.timestamp, revoked_position=position
                )

    def permits(
        self, participant_id: UUID, recipient_id: str, event_type: str, at: datetime
    ) -> bool:
        """Whether a consent in force at `at` lets `recipient_id` receive this kind of event."""
        return any(
            terms.recipient_id == recipient_id and terms.in_force(at) and terms.covers(event_type)
            for terms in self.of(participant_id)
        )

    def of(self, participant_id: UUID) -> list[ConsentTerms]:
        return [self._by_id[cid] for cid in self._by_participant.get(participant_id, ())]

    def terms(self, consent_id: UUID) -> ConsentTerms | None:
        return self._by_id.get(consent_id)


def participant_event_types() -> list[str]:
    """The names of the kinds of participant event a consent's scope may list."""
    return sorted(
        {
            value.__name__
            for value in vars(Participant).values()
            if isinstance(value, type)
            and issubclass(value, Participant.Event)
            and value is not Participant.Event
            and not getattr(value, "TOPIC", "").endswith(".abstract")
        }
    )


@dataclass(frozen=True)
class ConsentRecorded:
    """The receipt of a consent command."""

    consent_id: UUID
    participant_id: UUID
    version: int
    position: int
    recorded: bool = True  # False: a retried revocation, answered with the first's outcome
