"""The aggregate side of the hash chain (the rule itself is in `domain.chain`).

Events are shape v2: every event carries `previous_hash` and `event_hash`, computed when it is
triggered from the very field values the library stores, by the function verify applies to
decoded events. Shape v1 events (written before the chain) are upcast with both set to None.
The aggregate keeps `last_hash`, the hash its next event chains from: a stored event's own
hash, or, for a v1 event, its hash computed on the fly, so the first chained event seals the
v1 prefix. A snapshot taken before the chain has no `last_hash`; its upcast leaves it None
(unknown) and the service layer recomputes it from the stream before the next command.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import date, datetime
from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic

from domain.chain import GENESIS, event_content, event_hash, next_hash

# Event shape v2 added the chain fields; aggregate (snapshot) shape v2 added `last_hash`.
CHAINED_SHAPE = 2


_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes, datetime, date, UUID})


def _copy_value(value: Any, memo: dict[int, Any]) -> Any:
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict and all(
        type(k) in _IMMUTABLE and type(v) in _IMMUTABLE for k, v in value.items()
    ):
        return dict(value)
    if kind is list and all(type(v) in _IMMUTABLE for v in value):
        return list(value)
    return deepcopy(value, memo)


class ChainUnknown(RuntimeError):
    """The aggregate was rebuilt from a pre-chain snapshot: resume the chain before writing."""


class ChainedAggregate(Aggregate):
    """An aggregate whose every new event is hashed onto the chain of the ones before it."""

    class_version = CHAINED_SHAPE

    class Event(Aggregate.Event):
        class_version = CHAINED_SHAPE
        previous_hash: str | None
        event_hash: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Events stored before the chain existed: unchained, hashed on the fly."""
            state["previous_hash"] = None
            state["event_hash"] = None

        def mutate(self, aggregate: Any) -> Any:
            mutated = super().mutate(aggregate)
            if isinstance(mutated, ChainedAggregate):
                mutated._chain_on(self)
            return mutated

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Snapshots taken before the chain: the chain's head is unknown until resumed."""
        state["last_hash"] = None

    def __base_init__(self, originator_id: Any, originator_version: int, timestamp: Any) -> None:
        super().__base_init__(originator_id, originator_version, timestamp)
        self.last_hash: str | None = GENESIS

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        """A deep copy that shares immutable values instead of rebuilding them.

        The repository deep-copies a cached aggregate for every command and read; the generic
        copy rebuilds each datetime and UUID through `__reduce_ex__`, and walks every dict of
        entries, which made it a large share of a read. Values of immutable types are shared,
        dicts and lists of them copied shallowly, and anything else copied deeply as before.
        """
        cls = type(self)
        copied = cls.__new__(cls)
        memo[id(self)] = copied
        copied.__dict__.update(
            {name: _copy_value(value, memo) for name, value in self.__dict__.items()}
        )
        return copied

    @property
    def chain_known(self) -> bool:
        return self.last_hash is not None

    def resume_chain(self, head_hash: str) -> None:
        """Set the hash the next event chains from (recomputed from the stored stream)."""
        self.last_hash = head_hash

    def _chain_on(self, event: ChainedAggregate.Event) -> None:
        if event.event_hash is not None:
            self.last_hash = event.event_hash
        elif self.last_hash is not None:  # a v1 event: hashed on the fly, as verify does
            self.last_hash = event_hash(
                self.last_hash, event_content(get_topic(type(event)), vars(event))
            )

    def trigger_event(self, event_class: type[CanMutateAggregate[UUID]], **kwargs: Any) -> None:
        if self.last_hash is None:
            raise ChainUnknown(f"the chain head of {self.id} must be resumed before writing")
        fields = {
            **kwargs,
            "timestamp": kwargs.get("timestamp") or event_class.create_timestamp(),
            "originator_id": self.id,
            "originator_version": self.version + 1,
        }
        sealed = next_hash(self.last_hash, get_topic(event_class), fields)
        fields.pop("originator_id")
        fields.pop("originator_version")
        super().trigger_event(
            event_class, **fields, previous_hash=self.last_hash, event_hash=sealed
        )

    @classmethod
    def _create(
        cls,
        event_class: type[CanInitAggregate[UUID]],
        *,
        id: UUID | None = None,
        **kwargs: Any,
    ) -> Self:
        """The library's protected constructor from an explicit created-event class (how its
        aggregates with hand-written event classes are created), extended to seal the first
        link of the chain. Every aggregate here is created through it (`register`, `open`,
        `grant`), never by calling the class."""
        if id is None:
            raise TypeError(f"{cls.__name__} streams are opened with an explicit id")
        fields = {
            **kwargs,
            "timestamp": kwargs.get("timestamp") or event_class.create_timestamp(),
            "originator_topic": get_topic(cls),
            "originator_id": id,
            "originator_version": cls.INITIAL_VERSION,
        }
        sealed = next_hash(GENESIS, get_topic(event_class), fields)
        for imposed in ("originator_topic", "originator_id", "originator_version"):
            fields.pop(imposed)
        return super()._create(
            event_class, id=id, **fields, previous_hash=GENESIS, event_hash=sealed
        )
