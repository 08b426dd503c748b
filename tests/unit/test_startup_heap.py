"""The server freezes its startup heap, so full garbage collections skip it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from api.cli.main import freeze_startup_heap


class Node:
    """An object in a reference cycle: only the garbage collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_objects_alive_at_startup_are_left_out_of_collections(unfrozen: None) -> None:
    """What is alive when the heap is frozen is no longer in any generation the collector
    scans; a cycle created afterwards still is."""
    alive = Node()
    freeze_startup_heap()
    later = Node()

    assert gc.get_freeze_count() > 0
    scanned = gc.get_objects()
    assert not any(o is alive for o in scanned)
    assert any(o is later for o in scanned)


def test_garbage_at_startup_is_collected_not_frozen(unfrozen: None) -> None:
    """A cycle that is already garbage when the heap is frozen is freed first, not kept for
    the life of the process."""
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage

    freeze_startup_heap()

    assert gone() is None
