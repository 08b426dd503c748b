"""Steps of the application contract's tests: admissions, sessions and other commands
recorded through a ContinuumApplication by USER at NOW."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication, IdempotencyKey, Recorded
from domain.commands import ParticipantCommand
from tests.make import ADMITTED, PROGRAM, USER, admission, recorded_session

NOW = ADMITTED + timedelta(days=120)
DIMENSIONS = {"d1": 0, "d2": 1, "d3": 2, "d4": 2, "d5": 3, "d6": 1}


def day(n: int, hour: int = 9) -> datetime:
    return ADMITTED + timedelta(days=n, hours=hour - 9)


def open_app(url: str) -> ContinuumApplication:
    return ContinuumApplication(env=parse_store_url(url).settings)


def admit(
    app: ContinuumApplication,
    participant_id: UUID | None = None,
    *,
    level: str = "3.5",
    at: datetime = ADMITTED,
    idempotency: IdempotencyKey | None = None,
) -> Recorded:
    return app.execute(
        admission(at, participant_id=participant_id, program_id=PROGRAM, level=level),
        recorded_by=USER,
        now=NOW,
        idempotency=idempotency,
    )


def session(
    app: ContinuumApplication,
    participant_id: UUID,
    at: datetime,
    *,
    attended: bool = True,
    expected_version: int | None = None,
    idempotency: IdempotencyKey | None = None,
) -> Recorded:
    return app.execute(
        recorded_session(
            participant_id, at, 180, attended=attended, modality="CBT", track="evening"
        ),
        recorded_by=USER,
        now=NOW,
        expected_version=expected_version,
        idempotency=idempotency,
    )


def record(app: ContinuumApplication, command: ParticipantCommand) -> Recorded:
    return app.execute(command, recorded_by=USER, now=NOW)


def notification_count(app: ContinuumApplication) -> int:
    return len(app.recorder.select_notifications(start=1, limit=100_000))
