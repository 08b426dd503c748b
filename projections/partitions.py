"""How participants are split between the processes of a partitioned rebuild or projection.

A participant's partition is its id's 128-bit integer modulo the partition count: ids are
random (uuid4) or SHA-1 hashes (uuid5), so their low bits already spread participants evenly,
and the same id gives the same partition in every process and release (unlike hash(), which
is salted per process).

A store that can choose a partition's rows itself (`PartitionReader`; PostgreSQL) sends each
worker only its share of the log: without it every worker reads the whole log and drops the
other partitions' rows before decoding them, so N workers transfer the log N times.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable
from uuid import UUID


def partition_of(participant_id: UUID, count: int) -> int:
    """The partition (of `count`) a participant's events are folded in."""
    return participant_id.int % count


@runtime_checkable
class PartitionReader(Protocol):
    def select_partition(
        self, after: int, limit: int, stop: int | None, index: int, count: int
    ) -> tuple[Sequence[Any], int | None]:
        """The notifications of the participants in partition `index` of `count` among the
        next `limit * count` positions after `after` (so about `limit` of them, and never
        past `stop`), in log order, and the last position the read covered (every row up to
        it was seen). None: nothing after `after` yet."""


def partition_sql(count: int, uuid_bytes: str) -> str:
    """A SQL expression computing `partition_of` from the id's 16 bytes (`uuid_bytes`, a
    bytea expression), in integers that never overflow: the remainder of the big-endian
    number, byte by byte (Horner's rule, reduced at each step). `mod()`, not `%`: the
    expression goes into statements with driver placeholders."""
    if count < 1:
        raise ValueError(f"partition count {count} must be at least 1")
    if 256 % count == 0:  # a power of two up to 256: the last byte decides
        return f"mod(get_byte({uuid_bytes}, 15), {count})"
    expression = "0"
    for byte in range(16):
        expression = f"mod({expression} * 256 + get_byte({uuid_bytes}, {byte}), {count})"
    return expression
