"""`continuum export --format fhir-ndjson --output DIR`: the FHIR bulk export of the store.

One `<ResourceType>.ndjson` file per resource type (FHIR Bulk Data Access IG, "Response -
Output File Request"), every participant's resources (api.fhir.resources) with relative
references. An operator's export inside the program: no consent filter, nothing in the
disclosure log; whoever receives the files from the operator is a disclosure of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from api.fhir.bundle import NdjsonWriter
from api.fhir.resources import participant_resources, relative_reference
from domain.application import ContinuumApplication
from domain.participant import Participant

_BATCH = 1000


def registered_participants(application: ContinuumApplication) -> Iterator[UUID]:
    """Every participant's id, in the order their streams were opened."""
    position = 0
    while True:
        batch = application.recorder.select_notifications(
            start=position,
            limit=_BATCH,
            topics=(Participant.Registered.TOPIC,),
            inclusive_of_start=False,
        )
        for notification in batch:
            yield UUID(str(notification.originator_id))
        if len(batch) < _BATCH:
            return
        position = batch[-1].id


def export_fhir_ndjson(
    application: ContinuumApplication,
    directory: Path,
    participant_ids: Sequence[UUID] | None = None,
) -> dict[str, int]:
    """Write the NDJSON files under `directory` (created if missing); counts per type."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    writer = NdjsonWriter(directory)
    try:
        for participant_id in participant_ids or list(registered_participants(application)):
            writer.write(
                participant_resources(
                    participant_id,
                    application.stream(participant_id),
                    application.consents(participant_id),
                    now=now,
                    reference=relative_reference,
                )
            )
    finally:
        writer.close()
    return writer.counts
