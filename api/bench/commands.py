"""The command path: get + command + save per request, as an HTTP write runs it.

The mix: admit each participant (2 events), then rounds of one command each, two sessions for
every screening. 1 writer runs in this process; 4 writers are 4 processes (the GIL would cap
threads), each with its own application and its own participants.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from api.bench.common import Timed, in_processes, split, timed
from api.store import parse_store_url
from domain.application import ContinuumApplication

PANEL = {"cocaine": "negative", "opiates": "negative", "thc": "negative"}


def command_mix(store_url: str, participants: int, per_participant: int) -> Callable[[], int]:
    """Set up one writer; its timed part returns the events it appended."""
    app = ContinuumApplication(env=parse_store_url(store_url, pool_size=2).settings)
    now = datetime.now(UTC)
    admitted_at = now - timedelta(days=per_participant + 1)
    ids = [uuid4() for _ in range(participants)]

    def run() -> int:
        events = 0
        try:
            for pid in ids:
                app.admit(
                    participant_id=pid, program_id="bench-iop", age_group="adult", level="2.1",
                    pathway="primary", admitted_at=admitted_at, recorded_by="bench", now=now,
                )  # fmt: skip
                events += 2
            for day in range(1, per_participant + 1):
                at = admitted_at + timedelta(days=day)
                for pid in ids:
                    if day % 3 == 0:
                        app.record_screening(
                            pid, collected_at=at, specimen="urine", status="valid",
                            results=PANEL, recorded_by="bench", now=now,
                        )  # fmt: skip
                    else:
                        app.record_session(
                            pid, service="group", started_at=at, duration_minutes=180,
                            attended=True, modality="CBT", track="morning", recorded_by="bench",
                            now=now,
                        )  # fmt: skip
                    events += 1
        finally:
            app.close()
        return events

    return run


def command_path(store_url: str, participants: int, per_participant: int, writers: int) -> Timed:
    if writers == 1:
        return timed(command_mix, store_url, participants, per_participant)
    shares = split(participants, writers)
    return in_processes(command_mix, [(store_url, n, per_participant) for n in shares])
