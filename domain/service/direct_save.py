"""The application's `save`, less the library's runtime Protocol checks for aggregates."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import Recording


class DirectSave(Application[UUID]):
    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, less its runtime Protocol checks when only aggregates are saved.

        The library asks of each saved object whether it is a domain event, then whether it can
        collect events, with `isinstance` against runtime Protocols; on Python 3.11 each such
        check walks the protocol's attributes, which was ~8% of a command's CPU. Aggregates
        are known to collect events, so this runs the rest of the library's own `save` (9.5)
        step for step: `_record` (the recorder's insert, with `saved_kwargs` such as the
        idempotency row), `_take_snapshots` (per `snapshotting_intervals`) and `_notify` (the
        recordings' listeners). They are private in the library; the pinned version
        (constraints.txt) and the application contract tests hold them in place. Anything else
        (events, None) goes the library's way.
        """
        if not all(isinstance(obj, BaseAggregate) for obj in objs):
            return super().save(*objs, **kwargs)
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in objs:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, still called
        return recordings
