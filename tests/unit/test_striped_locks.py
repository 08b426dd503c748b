"""Per-participant locks from a fixed set: one id, one lock; many ids, a bounded number."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.service.striped_locks import StripedLocks


def test_an_id_always_gets_the_same_lock() -> None:
    locks = StripedLocks(8)
    participant = uuid4()

    assert locks.of(participant) is locks.of(participant)


def test_any_number_of_ids_share_the_fixed_set() -> None:
    """A thousand participants are served by at most 8 locks, and by more than one."""
    locks = StripedLocks(8)
    distinct = {id(locks.of(uuid4())) for _ in range(1000)}

    assert 1 < len(distinct) <= 8


def test_a_set_needs_at_least_one_lock() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        StripedLocks(0)
