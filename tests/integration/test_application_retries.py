"""ContinuumApplication's answers to a retried or stale write, on every backend: If-Match's
expected version and Idempotency-Key's first receipt."""

from __future__ import annotations

import pytest

from domain.application import ContinuumApplication, IdempotencyKey
from domain.errors import IdempotencyKeyReused, VersionConflict
from tests.integration.application_steps import (
    admit,
    day,
    notification_count,
    session,
)


@pytest.fixture
def store_url(database_url: str) -> str:
    """Every backend, memory included: `app` is the application the server opens on it."""
    return database_url


# ---- optimistic concurrency ----------------------------------------------------------


def test_matching_expected_version_is_accepted(app: ContinuumApplication) -> None:
    """A command whose expected_version is the stream's version is recorded."""
    pid = admit(app).participant_id
    assert session(app, pid, day(1), expected_version=2).version == 3


def test_stale_expected_version_is_a_conflict_naming_the_current_version(
    app: ContinuumApplication,
) -> None:
    """Given a stream at version 3, when a command expects version 2, then VersionConflict
    carries current_version 3 and nothing is appended."""
    pid = admit(app).participant_id
    session(app, pid, day(1))
    with pytest.raises(VersionConflict) as caught:
        session(app, pid, day(2), expected_version=2)
    assert caught.value.current_version == 3
    assert len(app.stream(pid)) == 3


# ---- idempotency ---------------------------------------------------------------------


def test_same_idempotency_key_returns_the_first_receipt_and_appends_nothing(
    app: ContinuumApplication,
) -> None:
    """Given a session recorded with an Idempotency-Key, when the same request is retried,
    then the first receipt comes back and the stream holds the session once."""
    pid = admit(app).participant_id
    key = IdempotencyKey("retry-1", "fingerprint-a")
    first = session(app, pid, day(1), idempotency=key)
    log_size = notification_count(app)
    again = session(app, pid, day(1), idempotency=key)
    assert again == first
    assert len(app.stream(pid)) == 3
    assert notification_count(app) == log_size


def test_idempotent_admission_of_a_new_participant_returns_the_same_participant(
    app: ContinuumApplication,
) -> None:
    """A retried admission without a participant id does not open a second participant."""
    key = IdempotencyKey("admit-1", "fingerprint-a")
    first = admit(app, idempotency=key)
    again = admit(app, idempotency=key)
    assert again == first
    assert notification_count(app) == 2


def test_reused_key_with_a_different_request_is_refused(app: ContinuumApplication) -> None:
    """The same key with another fingerprint is IdempotencyKeyReused; nothing is appended."""
    pid = admit(app).participant_id
    session(app, pid, day(1), idempotency=IdempotencyKey("retry-1", "fingerprint-a"))
    with pytest.raises(IdempotencyKeyReused):
        session(app, pid, day(2), idempotency=IdempotencyKey("retry-1", "fingerprint-b"))
    assert len(app.stream(pid)) == 3
