"""The snapshot seal (domain.snapshot_seal): what it binds, and each way it refuses."""

from __future__ import annotations

import base64
from typing import Any
from uuid import uuid4

from eventsourcing.domain import Snapshot

from api.storage.cipher import create_cipher_key
from domain.snapshot_seal import (
    SealedSnapshot,
    compute_seal,
    reseal,
    seal_key,
    seal_problem,
    seal_snapshot,
)
from tests.unit.test_chain import add_entries, admitted, stored

KEY = seal_key(create_cipher_key())


def sealed(key: bytes | None = KEY) -> SealedSnapshot:
    participant = admitted()
    add_entries(participant)
    snapshot = seal_snapshot(key, participant)
    assert snapshot is not None
    assert snapshot.chain_hash == participant.last_hash
    return snapshot


def test_an_intact_snapshot_passes_against_the_event_it_was_taken_at() -> None:
    snapshot = sealed()
    assert seal_problem(KEY, snapshot, snapshot.chain_hash) is None
    keyless = sealed(None)
    assert seal_problem(None, keyless, keyless.chain_hash) is None


def test_an_edited_state_fails_the_seal() -> None:
    snapshot = sealed()
    edited = stored(snapshot, state={**snapshot.state, "program_id": "harbor-php"})
    assert seal_problem(KEY, edited, snapshot.chain_hash) == "seal"


def test_another_streams_snapshot_fails_the_seal() -> None:
    """The stream id is sealed: a snapshot copied onto another participant does not pass."""
    snapshot = sealed()
    assert seal_problem(KEY, stored(snapshot, originator_id=uuid4()), snapshot.chain_hash) == "seal"
    assert seal_problem(KEY, stored(snapshot, originator_version=3), snapshot.chain_hash) == "seal"


def test_a_seal_under_another_key_or_none_fails() -> None:
    snapshot = sealed()
    assert seal_problem(seal_key(create_cipher_key()), snapshot, snapshot.chain_hash) == "seal"
    assert seal_problem(None, snapshot, snapshot.chain_hash) == "seal"


def test_a_snapshot_not_matching_the_stored_event_fails_the_chain_check() -> None:
    snapshot = sealed()
    assert seal_problem(KEY, snapshot, "0" * 64) == "chain"
    assert seal_problem(KEY, snapshot, None) == "missing event"


def test_a_state_whose_last_hash_disagrees_with_the_sealed_chain_hash_fails() -> None:
    """Sealed by someone holding the key, but binding a state to another event's hash."""
    snapshot = sealed()
    other = "e" * 64
    fields: dict[str, Any] = {
        "originator_id": snapshot.originator_id,
        "originator_version": snapshot.originator_version,
        "topic": snapshot.topic,
        "chain_hash": other,
        "state": snapshot.state,
    }
    forged = stored(snapshot, chain_hash=other, seal=compute_seal(KEY, **fields))
    assert seal_problem(KEY, forged, other) == "state"


def test_the_librarys_plain_snapshot_is_unsealed() -> None:
    participant = admitted()
    assert seal_problem(KEY, Snapshot.take(participant), participant.last_hash) == "unsealed"


def test_the_seal_key_is_not_the_cipher_key() -> None:
    cipher_key = create_cipher_key()
    derived = seal_key(cipher_key)
    assert derived is not None and derived != base64.b64decode(cipher_key)
    assert seal_key(None) is None


def test_reseal_carries_a_good_snapshot_to_a_new_key_and_drops_a_bad_one() -> None:
    snapshot = sealed()
    new_key = seal_key(create_cipher_key())
    moved = reseal(snapshot, KEY, new_key)
    assert moved is not None
    assert seal_problem(new_key, moved, snapshot.chain_hash) is None
    assert seal_problem(KEY, moved, snapshot.chain_hash) == "seal"
    edited = stored(snapshot, state={**snapshot.state, "program_id": "x"})
    assert reseal(edited, KEY, new_key) is None
