"""Idempotency-Key receipts: a retried write answers the first write's receipt.

The receipt is stored in the same transaction as the events it names (the recorders in
api/storage write it), so a key is either used with its events or not used at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from domain.commands import Recorded
from domain.errors import IdempotencyKeyReused


@dataclass(frozen=True)
class IdempotencyKey:
    """A caller's retry key and a fingerprint of the request it was first sent with."""

    key: str
    fingerprint: str


@runtime_checkable
class IdempotencyRecorder(Protocol):
    """What a recorder offers when it stores idempotency keys in the events' transaction."""

    def select_idempotent_response(self, key: str) -> tuple[str, str, int | None] | None:
        """(fingerprint, receipt JSON, log position of the receipt's event) for a used key."""


def earlier_receipt(recorder: object, key: IdempotencyKey) -> Recorded | None:
    """The receipt first returned for this key, if the key was used before.

    A recorder that stores no keys (the in-memory one) never has an earlier receipt.
    """
    if not isinstance(recorder, IdempotencyRecorder):
        return None
    stored = recorder.select_idempotent_response(key.key)
    if stored is None:
        return None
    fingerprint, response, position = stored
    if fingerprint != key.fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request")
    return replace(Recorded.from_json(response), position=position)


def receipt_row(key: IdempotencyKey | None, receipt: Recorded) -> tuple[str, str, str] | None:
    """What the recorder stores beside the events: (key, fingerprint, receipt JSON)."""
    if key is None:
        return None
    return (key.key, key.fingerprint, receipt.to_json())
