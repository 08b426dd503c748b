"""Tamper verification over the stored rows: each stream's hash chain recomputed from the store.

Reads the recorder's rows, not the aggregate cache, and decodes each on its own: a row that
fails to decrypt or parse is reported as an unreadable link, not raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, ApplicationRecorder, Mapper, StoredEvent
from eventsourcing.utils import get_topic

from domain.chain import ChainReport, Unreadable, verify_chain
from domain.chained import ChainedAggregate
from domain.event_ids import event_id_for
from domain.participant import Participant
from domain.service.snapshots import check_snapshots

# Notifications read per query while `verify_all` walks the log for stream ids.
VERIFY_LOG_BATCH = 1000

VerifyProgress = Callable[[int, int], None]
"""Called by `verify_all` after each batch of the log: (streams verified, log position)."""


class Verification:
    """Recomputes hash chains from a recorder's rows with the application's mapper."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper[UUID],
        *,
        snapshots: AggregateRecorder | None = None,
        seal_key: bytes | None = None,
    ) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._snapshots = snapshots
        self._seal_key = seal_key

    def stream(self, originator_id: UUID) -> ChainReport:
        """Any stream's chain (a participant's, a consent's or a program's), and its stored
        snapshots against it (domain.service.snapshots)."""
        decoded = [self._decode(row) for row in self._recorder.select_events(originator_id)]
        report = verify_chain(decoded, originator_id=originator_id, topic_of=_topic)
        if self._snapshots is None or report.events == 0:
            return report
        found = check_snapshots(
            self._snapshots, self._mapper, self._seal_key, originator_id, decoded
        )
        return replace(report, snapshot_breaks=tuple(found)) if found else report

    def all(
        self, progress: VerifyProgress | None = None, *, batch_size: int = VERIFY_LOG_BATCH
    ) -> Iterator[ChainReport]:
        """A report per stream, in the order streams first appear in the notification log.

        The log is read in batches and each stream is read once, when first seen, so memory
        holds one batch, one stream and the set of stream ids already verified.
        """
        verified: set[UUID] = set()
        position = 0
        while True:
            batch = self._recorder.select_notifications(
                start=position, limit=batch_size, inclusive_of_start=False
            )
            if not batch:
                return
            for notification in batch:
                originator_id = UUID(str(notification.originator_id))
                if originator_id in verified:
                    continue
                verified.add(originator_id)
                yield self.stream(originator_id)
            position = batch[-1].id
            if progress is not None:
                progress(len(verified), position)

    def resume_chain_if_unknown(self, aggregate: ChainedAggregate) -> None:
        """After a snapshot from before the chain, recompute the head from the stream."""
        if not aggregate.chain_known:
            stored = self._recorder.select_events(aggregate.id, lte=aggregate.version)
            events = (self._mapper.to_domain_event(row) for row in stored)
            aggregate.resume_chain(verify_chain(events, topic_of=_topic).head_hash)

    def _decode(self, row: StoredEvent) -> object:
        try:
            return self._mapper.to_domain_event(row)
        except Exception as error:  # any row that cannot be decoded is a broken link
            cause = error.__cause__ or error
            # The class name only: messages may quote stored (clinical) content.
            return Unreadable(
                originator_id=row.originator_id,
                originator_version=row.originator_version,
                reason=f"the stored event cannot be decoded ({type(cause).__name__})",
                event_id=_event_id_of_row(row),
            )


def _topic(event: object) -> str:
    return get_topic(type(event))


def _event_id_of_row(row: StoredEvent) -> UUID | None:
    """The public event id, when the row is a participant's (only those have one)."""
    if row.topic.startswith(f"{Participant.TOPIC}.") and isinstance(row.originator_id, UUID):
        return event_id_for(row.originator_id, row.originator_version)
    return None
