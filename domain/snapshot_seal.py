"""Snapshots bound to the hash chain: a snapshot is trusted only with a seal that checks.

A snapshot is a copy of an aggregate's state at one version, stored beside the events so a long
stream need not be replayed. Nothing in the event chain (`domain.chain`) covers it: an edit of
the snapshot's state (say, another program id) would change what the aggregate is, and so who
may read it, while every event still verifies. So each snapshot carries:

- `chain_hash`: the `event_hash` of the event it was taken at (the aggregate's `last_hash`);
- `seal`: HMAC-SHA256 over the canonical JSON (`domain.chain.canonical_json`) of the stream id,
  the version, the aggregate's topic, `chain_hash` and the state. The HMAC key is derived from
  the store's cipher key, so without the key a seal cannot be forged; a store without a cipher
  key uses plain SHA-256 of the same text, a checksum that catches an edit made without
  recomputing it (`verify` replays the stream to catch the rest, see domain.service.snapshots).

On load, a snapshot is used only if its seal checks, its state's `last_hash` equals
`chain_hash`, and the stored event at its version carries that very hash; otherwise the
aggregate is replayed from its events (which the chain does cover) and the rejection reported.
Snapshots from before the seal (the library's plain `Snapshot`) are never trusted: replayed.

Standard library only, like `domain.chain`, so an auditor can re-check a seal by hand.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Snapshot
from eventsourcing.utils import register_topic

from domain.chain import canonical_json

# Why a snapshot was not used (logged and counted; never its content).
RejectReason = Literal["unsealed", "unreadable", "seal", "chain", "state", "missing event"]

# Domain separation: the cipher key also encrypts, so the seal uses a key derived from it.
_SEAL_KEY_LABEL = b"continuum snapshot seal v1"


class SealedSnapshot(Snapshot):
    """The library's snapshot plus the hash of the event it was taken at and its seal."""

    TOPIC = "continuum.SealedSnapshot.v1"

    chain_hash: str
    seal: str


register_topic(SealedSnapshot.TOPIC, SealedSnapshot)


def seal_key(cipher_key: str | None) -> bytes | None:
    """The HMAC key for seals, derived from the base64 cipher key (None without one)."""
    if not cipher_key:
        return None
    return hmac.new(base64.b64decode(cipher_key), _SEAL_KEY_LABEL, hashlib.sha256).digest()


def compute_seal(
    key: bytes | None,
    *,
    originator_id: UUID,
    originator_version: int,
    topic: str,
    chain_hash: str,
    state: dict[str, Any],
) -> str:
    """HMAC-SHA256 (hex) with `key`, or SHA-256 without one, of the canonical sealed text."""
    text = canonical_json(
        {
            "originator_id": str(originator_id),
            "originator_version": originator_version,
            "topic": topic,
            "chain_hash": chain_hash,
            "state": state,
        }
    ).encode("ascii")
    if key is None:
        return hashlib.sha256(text).hexdigest()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def seal_snapshot(key: bytes | None, aggregate: Any) -> SealedSnapshot | None:
    """A sealed snapshot of `aggregate` (a ChainedAggregate), or None if its chain head is
    unknown (rebuilt from a pre-chain snapshot and not yet resumed: nothing to bind it to)."""
    chain_hash = getattr(aggregate, "last_hash", None)
    if chain_hash is None:
        return None
    plain = Snapshot.take(aggregate)
    seal = compute_seal(
        key,
        originator_id=plain.originator_id,
        originator_version=plain.originator_version,
        topic=plain.topic,
        chain_hash=chain_hash,
        state=plain.state,
    )
    # The library makes each event class a dataclass of its annotations at run time; mypy sees
    # only the base class's fields, hence the cast.
    sealed: Any = SealedSnapshot
    return sealed(  # type: ignore[no-any-return]
        originator_id=plain.originator_id,
        originator_version=plain.originator_version,
        timestamp=plain.timestamp,
        topic=plain.topic,
        state=plain.state,
        chain_hash=chain_hash,
        seal=seal,
    )


def seal_problem(
    key: bytes | None, snapshot: object, event_hash_at_version: str | None
) -> RejectReason | None:
    """Why `snapshot` must not be used, or None if it may.

    `event_hash_at_version` is the stored `event_hash` of the stream's event at the snapshot's
    version (None if there is no such event, or it carries no hash).
    """
    if not isinstance(snapshot, SealedSnapshot):
        return "unsealed"
    expected = compute_seal(
        key,
        originator_id=snapshot.originator_id,
        originator_version=snapshot.originator_version,
        topic=snapshot.topic,
        chain_hash=snapshot.chain_hash,
        state=snapshot.state,
    )
    if not hmac.compare_digest(expected, str(snapshot.seal)):
        return "seal"
    if snapshot.state.get("last_hash") != snapshot.chain_hash:
        return "state"
    if event_hash_at_version is None:
        return "missing event"
    if not hmac.compare_digest(event_hash_at_version, snapshot.chain_hash):
        return "chain"
    return None


def reseal(snapshot: object, old_key: bytes | None, new_key: bytes | None) -> SealedSnapshot | None:
    """The snapshot sealed under `new_key` (a key rotation), if its seal checks under
    `old_key`; None if it does not (or it is unsealed): such a snapshot is not carried over,
    the stream is replayed instead and sealed afresh at its next snapshot."""
    if not isinstance(snapshot, SealedSnapshot):
        return None
    fields: dict[str, Any] = {
        "originator_id": snapshot.originator_id,
        "originator_version": snapshot.originator_version,
        "topic": snapshot.topic,
        "chain_hash": snapshot.chain_hash,
        "state": snapshot.state,
    }
    if not hmac.compare_digest(compute_seal(old_key, **fields), str(snapshot.seal)):
        return None
    sealed: Any = SealedSnapshot
    return sealed(  # type: ignore[no-any-return]
        **fields, timestamp=snapshot.timestamp, seal=compute_seal(new_key, **fields)
    )
