"""Domain errors, one family per meaning; the HTTP layer maps each family once."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose.

    `rule` is a stable machine-readable id (clients switch on it); `detail` is for people.
    """

    rule: str = "domain_error"

    def __init__(self, detail: str, *, rule: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if rule is not None:
            self.rule = rule


class InvalidValue(DomainError):
    """A value is malformed or out of range; names the offending field."""

    rule = "invalid_value"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field


class RuleViolation(DomainError):
    """Well-formed input that the participant's history forbids."""

    rule = "rule_violation"


class NotAdmitted(RuleViolation):
    rule = "not_admitted"


class BeforeAdmission(RuleViolation):
    rule = "before_admission"


class AfterDischarge(RuleViolation):
    rule = "after_discharge"


class InTheFuture(RuleViolation):
    rule = "in_the_future"


class AlreadyActive(RuleViolation):
    rule = "already_active"


class AlreadyDischarged(RuleViolation):
    rule = "already_discharged"


class SameLevel(RuleViolation):
    rule = "same_level"


class UnknownEvent(RuleViolation):
    rule = "unknown_event"


class AlreadyCorrected(RuleViolation):
    rule = "already_corrected"


class NotCorrectable(RuleViolation):
    rule = "not_correctable"


class ParticipantExists(RuleViolation):
    rule = "participant_exists"


class OutOfOrder(RuleViolation):
    """A journey-shaping entry dated before facts it would contradict."""

    rule = "out_of_order"


class UnknownPrescription(RuleViolation):
    rule = "unknown_prescription"


class PrescriptionEnded(RuleViolation):
    rule = "prescription_ended"


class NotDischarged(RuleViolation):
    rule = "not_discharged"


class BeforeDischarge(RuleViolation):
    rule = "before_discharge"


class ParticipantNotFound(DomainError):
    rule = "participant_not_found"


class VersionConflict(DomainError):
    """The stream moved on since the caller read it (If-Match) or a concurrent write won."""

    rule = "version_conflict"

    def __init__(self, detail: str, *, current_version: int | None) -> None:
        super().__init__(detail)
        self.current_version = current_version


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key came back with a different request."""

    rule = "idempotency_key_reused"
