"""A participant's record in clinical order, and the date transcoding its events need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from eventsourcing.persistence import Transcoding

from domain.participant import Participant


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class TimelineEntry:
    event: Participant.Event
    corrected_by: UUID | None

    @property
    def corrected(self) -> bool:
        return self.corrected_by is not None


def in_clinical_order(events: list[Participant.Event]) -> list[TimelineEntry]:
    """Events by occurred_at, then recorded order, each with the correction that retracts it."""
    corrected_by = {
        e.corrected_event_id: e.event_id
        for e in events
        if isinstance(e, Participant.EntryCorrected)
    }
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.originator_version))
    return [TimelineEntry(e, corrected_by.get(e.event_id)) for e in ordered]
