"""Consents to disclose (42 CFR Part 2): the application's grant and revoke, and their reads."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain.commands import GrantConsent, RevokeConsent
from domain.consent import (
    Consent,
    ConsentNotFound,
    ConsentRecorded,
    ConsentTerms,
    participant_event_types,
)
from domain.errors import VersionConflict
from domain.participant import Participant
from domain.service.consents import ConsentFollower
from domain.service.write_engine import MAX_COMMAND_ATTEMPTS


class ConsentCommands(Application[UUID]):
    """The consent half of ContinuumApplication (which supplies `peek_participant`)."""

    _consents: ConsentFollower

    def peek_participant(self, participant_id: UUID) -> Participant:
        raise NotImplementedError

    def _grant_consent(
        self, command: GrantConsent, *, recorded_by: str, now: datetime
    ) -> ConsentRecorded:
        """The participant's consent to disclose events of `scope` to one recipient."""
        participant_id = command.participant_id
        self.peek_participant(participant_id)
        consent = Consent.grant(
            command.consent_id or uuid4(),
            participant_id=participant_id,
            recipient_id=command.recipient_id,
            scope=command.scope,
            known_types=participant_event_types(),
            expires_at=command.expires_at,
            occurred_at=command.signed_at or now,
            recorded_by=recorded_by,
            now=now,
        )
        try:
            recordings = self.save(consent)
        except IntegrityError:
            raise VersionConflict(f"consent {consent.id} exists", current_version=None) from None
        position = recordings[-1].notification.id
        return ConsentRecorded(consent.id, participant_id, consent.version, position)

    def _revoke_consent(
        self, command: RevokeConsent, *, recorded_by: str, now: datetime
    ) -> ConsentRecorded:
        """End a consent from now on; disclosures already made stay in the disclosure log.

        Revoking a revoked consent records nothing and answers the first revocation's outcome
        (`recorded` False): a client retrying after a lost answer must not see a refusal.
        """
        for _attempt in range(MAX_COMMAND_ATTEMPTS):
            consent = self.get_consent(command.participant_id, command.consent_id)
            if consent.revoked_at is not None:
                terms = self.consent_follower().terms(consent.id)
                position = terms.revoked_position if terms is not None else None
                return ConsentRecorded(
                    consent.id,
                    consent.participant_id,
                    consent.version,
                    position or 0,
                    recorded=False,
                )
            consent.revoke(reason=command.reason, recorded_by=recorded_by, now=now)
            try:
                recordings = self.save(consent)
            except IntegrityError:
                continue
            position = recordings[-1].notification.id
            return ConsentRecorded(consent.id, consent.participant_id, consent.version, position)
        raise VersionConflict("the consent changed concurrently; try again", current_version=None)

    def get_consent(self, participant_id: UUID, consent_id: UUID) -> Consent:
        """One of the participant's consents."""
        try:
            consent: object = self.repository.get(consent_id)
        except AggregateNotFoundError:
            consent = None
        if not isinstance(consent, Consent) or consent.participant_id != participant_id:
            raise ConsentNotFound(f"participant {participant_id} has no consent {consent_id}")
        return consent

    def consents(self, participant_id: UUID) -> list[Consent]:
        """The participant's consents, in the order they were granted."""
        self.peek_participant(participant_id)
        return [
            self.get_consent(participant_id, terms.consent_id)
            for terms in self.consent_terms(participant_id)
        ]

    def consent_follower(self) -> ConsentFollower:
        """Every consent, level with the log as of this call (what disclosures decide with)."""
        self._consents.catch_up(self.recorder, self.mapper)
        return self._consents

    def consent_terms(self, participant_id: UUID) -> list[ConsentTerms]:
        return self.consent_follower().of(participant_id)
