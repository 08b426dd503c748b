"""Snapshots checked before use, and checked again by replay when verifying.

`CheckedRepository` is the library's repository with its one snapshot step replaced: the
latest snapshot is used only if `domain.snapshot_seal.seal_problem` finds nothing wrong with
it against the stored event at its version (read in the same query as the events after it, so
a trusted snapshot costs one more row, not another round trip). Otherwise the aggregate is
replayed from its events, and the rejection is logged (`snapshot_rejected`, ids and the reason
only) and counted.

`check_snapshots` (for verify) goes further than the seal: it replays the stream up to each
snapshot's version and compares the states, which catches an edit whose seal was recomputed,
possible on a store without a cipher key, where the seal is a plain SHA-256.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    ProjectorFunction,
    Repository,
    project_aggregate,
)
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import AggregateRecorder, Mapper, PersistenceError

from domain.chain import Break, canonical_json
from domain.snapshot_seal import RejectReason, seal_key, seal_problem, seal_snapshot

logger = logging.getLogger("continuum.snapshots")


class SnapshotRejections:
    """How many snapshots were refused on load since start (a counter for health reports)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def record(self, originator_id: UUID, version: int, reason: RejectReason) -> None:
        with self._lock:
            self.count += 1
        # Ids, version and reason only: the snapshot's content is clinical.
        logger.warning(
            "snapshot_rejected participant_id=%s version=%d reason=%s",
            originator_id,
            version,
            reason,
            extra={"participant_id": str(originator_id), "version": version, "reason": reason},
        )


class CheckedRepository(Repository[UUID]):
    """The library's Repository, trusting a snapshot only when its seal and chain check.

    Overrides the library's `_reconstruct_aggregate` (private in eventsourcing 9.5, pinned in
    constraints.txt; the snapshot tests hold its contract): same result, with the check added.
    """

    def __init__(
        self, *args: Any, seal_key: bytes | None, rejections: SnapshotRejections, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.seal_key = seal_key
        self.rejections = rejections

    def _reconstruct_aggregate(
        self,
        aggregate_id: UUID,
        version: int | None,
        projector_func: ProjectorFunction[Any, Any],
    ) -> Any:
        snapshot, reason = self._latest_snapshot(aggregate_id, version)
        events: Sequence[Any] = ()
        if snapshot is not None:
            at = snapshot.originator_version
            # From the snapshot's own version: its event's hash is what the seal names.
            events = list(self.event_store.get(originator_id=aggregate_id, gt=at - 1, lte=version))
            event_hash = None
            if events and events[0].originator_version == at:
                event_hash = getattr(events[0], "event_hash", None)
            reason = seal_problem(self.seal_key, snapshot, event_hash)
            if reason is None:
                return self._project(aggregate_id, version, projector_func, [snapshot, *events[1:]])
            self.rejections.record(aggregate_id, at, reason)
            older = self.event_store.get(originator_id=aggregate_id, lte=at - 1)
            return self._project(aggregate_id, version, projector_func, chain(older, events))
        if reason is not None:
            self.rejections.record(aggregate_id, 0, reason)
        everything = self.event_store.get(originator_id=aggregate_id, lte=version)
        return self._project(aggregate_id, version, projector_func, everything)

    def _latest_snapshot(
        self, aggregate_id: UUID, version: int | None
    ) -> tuple[Snapshot | None, RejectReason | None]:
        if self.snapshot_store is None:
            return None, None
        try:
            found = list(
                self.snapshot_store.get(originator_id=aggregate_id, desc=True, limit=1, lte=version)
            )
        except PersistenceError:  # the database itself failed: not the snapshot's fault
            raise
        except Exception:  # a snapshot that cannot be decrypted or decoded: replay instead
            return None, "unreadable"
        return (cast(Snapshot, found[0]) if found else None), None

    @staticmethod
    def _project(
        aggregate_id: UUID,
        version: int | None,
        projector_func: ProjectorFunction[Any, Any],
        events: Iterable[Any],
    ) -> Any:
        aggregate = projector_func(None, events)
        if aggregate is None:
            msg = f"Aggregate {aggregate_id!r} version {version!r} not found."
            raise AggregateNotFoundError(msg)
        return aggregate


def check_snapshots(
    snapshot_recorder: AggregateRecorder,
    mapper: Mapper[UUID],
    seal_key: bytes | None,
    originator_id: UUID,
    events: Sequence[object],
) -> list[Break]:
    """Every stored snapshot of the stream checked: decoded, its seal and chain hash against the
    stored event at its version, and its state against a replay of the stream's `events` (as
    decoded for the chain check, in version order) up to there, one replay for all of them."""
    breaks: list[Break] = []
    snapshots: dict[int, Any] = {}
    for row in snapshot_recorder.select_events(originator_id):
        try:
            snapshots[row.originator_version] = mapper.to_domain_event(row)
        except Exception as error:  # the class name only: messages may quote stored content
            cause = error.__cause__ or error
            breaks.append(_break(row.originator_version, f"unreadable ({type(cause).__name__})"))
    if not snapshots:
        return breaks
    aggregate: Any = None
    for event in events:
        if not snapshots:
            break
        try:
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        except Exception:  # unreadable or out of order: the chain check reports the event
            break
        version = aggregate.version
        snapshot = snapshots.pop(version, None)
        if snapshot is None:
            continue
        reason = seal_problem(seal_key, snapshot, getattr(event, "event_hash", None))
        if reason not in (None, "unsealed"):
            breaks.append(_break(version, f"the {reason} check failed"))
        elif not _same_state(Snapshot.take(aggregate).state, snapshot, legacy=reason is not None):
            breaks.append(_break(version, "its state differs from a replay of the events"))
    # Snapshots at versions the replay never reached (no such event, or an unreadable one).
    breaks += [_break(version, "no event to check it against") for version in snapshots]
    return sorted(breaks, key=lambda b: b.version)


def _break(version: int, detail: str) -> Break:
    return Break(version, None, "snapshot", f"the snapshot at version {version}: {detail}")


# Fields a snapshot from before the chain and its seal did not have (added by upcasting).
_LATER_FIELDS = ("last_hash", "class_version")


def _same_state(replayed: dict[str, Any], snapshot: Any, *, legacy: bool) -> bool:
    stored = dict(snapshot.state)
    if legacy:
        for name in _LATER_FIELDS:
            replayed.pop(name, None)
            stored.pop(name, None)
    return canonical_json(replayed) == canonical_json(stored)


class SealedSnapshots(Application[UUID]):
    """The application's snapshots sealed to the chain (domain.snapshot_seal): taken sealed,
    checked on load by CheckedRepository, rejected ones counted in `snapshot_rejections`."""

    snapshot_rejections: SnapshotRejections

    @property
    def seal_key(self) -> bytes | None:
        """The snapshots' HMAC key, derived from the cipher key when the cipher is on."""
        if not self.env.get("CIPHER_TOPIC"):
            return None
        return seal_key(self.env.get("CIPHER_KEY"))

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository, with each snapshot's seal checked before it is used."""
        plain = super().construct_repository()
        return CheckedRepository(
            event_store=plain.event_store,
            snapshot_store=plain.snapshot_store,
            cache_maxsize=self.aggregate_cache_size,
            fastforward=plain.fastforward,
            fastforward_skipping=plain.fastforward_skipping,
            deepcopy_from_cache=plain.deepcopy_from_cache,
            seal_key=self.seal_key,
            rejections=self.snapshot_rejections,
        )

    @property
    def aggregate_cache_size(self) -> int | None:
        """The library's reading of AGGREGATE_CACHE_MAXSIZE (None: no cache)."""
        size = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return int(size) if size else None

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """The library's step after a save (eventsourcing 9.5's `_take_snapshots`, private:
        pinned in constraints.txt), taking a due snapshot from the aggregate just saved when it
        stands at the snapshot's version, instead of reading the stream back to rebuild it.

        A command saves one or a few events, so the aggregate saved is almost always at the
        version due; rebuilding it from the store cost ~3% of a session write's CPU over HTTP
        (1 snapshot per 100 writes, each reading up to 100 events back; docs/performance.md,
        "Snapshots from the saved aggregate"). Its state is the one a replay gives: every
        attribute of a participant is set by its events' `mutate`, applied alike on a command
        and on a replay, and `verify` compares each snapshot to a replay (check_snapshots).
        An event due short of the aggregate's version (several saved at once) goes the
        library's way."""
        if not self.snapshots or not self.snapshotting_intervals:
            return
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            if aggregate is None:
                continue
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval is None or event.originator_version % interval != 0:
                continue
            if aggregate.version == event.originator_version:
                snapshot = seal_snapshot(self.seal_key, aggregate)
                if snapshot is not None:
                    self.snapshots.put([snapshot])
            else:
                self.take_snapshot(event.originator_id, event.originator_version)

    def take_snapshot(
        self,
        aggregate_id: UUID,
        version: int | None = None,
        projector_func: ProjectorFunction[Any, Any] = project_aggregate,
    ) -> None:
        """The library's snapshot, sealed to the event it was taken at (none if the aggregate's
        chain head is unknown: there is nothing to bind it to)."""
        if self.snapshots is None:
            raise AssertionError("snapshotting is not enabled")
        aggregate = self.repository.get(
            aggregate_id, version=version, projector_func=projector_func
        )
        snapshot = seal_snapshot(self.seal_key, aggregate)
        if snapshot is not None:
            self.snapshots.put([snapshot])
