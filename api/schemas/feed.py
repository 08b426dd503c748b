"""HTTP shapes of consents, the event feed and the disclosure log."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.events import CloudEvent
from api.schemas.participants import Identifier, Instant, Text
from api.schemas.reply import Reply
from domain.commands import GrantConsent, RevokeConsent
from domain.consent import Consent


class ConsentRequest(BaseModel):
    """A participant's written consent to disclose to one recipient (42 CFR 2.31)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recipient_id: Identifier = Field(description="The recipient's id: an integrator token's sub")
    scope: list[Identifier] = Field(
        min_length=1,
        max_length=50,
        description='Event types (e.g. "SessionAttended") or ["all"]',
        examples=[["all"], ["Admitted", "SessionAttended", "Discharged"]],
    )
    expires_at: Instant
    signed_at: Instant | None = Field(None, description="When the participant signed (default now)")
    consent_id: UUID | None = Field(None, description="Chosen by the caller to retry safely")

    def to_command(self, participant_id: UUID) -> GrantConsent:
        return GrantConsent(
            participant_id=participant_id,
            recipient_id=self.recipient_id,
            scope=list(self.scope),
            expires_at=self.expires_at,
            signed_at=self.signed_at,
            consent_id=self.consent_id,
        )


class RevocationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: Text

    def to_command(self, participant_id: UUID, consent_id: UUID) -> RevokeConsent:
        return RevokeConsent(
            participant_id=participant_id, consent_id=consent_id, reason=self.reason
        )


class ConsentReceipt(Reply):
    consent_id: UUID
    participant_id: UUID
    version: int
    position: int


class ConsentView(Reply):
    consent_id: UUID
    participant_id: UUID
    recipient_id: str
    scope: list[str]
    expires_at: datetime
    signed_at: datetime
    granted_at: datetime
    granted_by: str
    status: str = Field(description="active, expired or revoked")
    revoked_at: datetime | None
    revocation_reason: str | None

    @classmethod
    def of(cls, consent: Consent, now: datetime) -> ConsentView:
        status = (
            "revoked" if consent.revoked_at else "active" if consent.in_force(now) else "expired"
        )
        return cls.read(
            consent,
            consent_id=consent.id,
            scope=list(consent.scope),
            granted_at=consent.created_on,
            status=status,
        )


class ConsentList(BaseModel):
    participant_id: UUID
    consents: list[ConsentView]


class FeedPageBody(BaseModel):
    """A page of the feed (documentation only: pages are served as built)."""

    events: list[CloudEvent] = Field(description="CloudEvents 1.0, structured JSON")
    next_after: int = Field(description="The last position scanned: pass it as `after` next")


class DisclosureBody(BaseModel):
    id: int
    recipient: str
    participant_id: UUID
    event_ids: list[UUID]
    disclosed_at: datetime
    channel: str


class DisclosurePage(BaseModel):
    disclosures: list[DisclosureBody]
    next_after: int
