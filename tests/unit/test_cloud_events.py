"""The feed's public shapes: CloudEvent type names and the data fields each type publishes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_type_hints
from uuid import uuid4

from api.feed.cloud_events import cloud_event_type, event_name_of_type, snake_case
from domain.chain import CHAIN_FIELDS
from domain.consent import Consent, ConsentBook
from domain.participant import ENVELOPE_FIELDS, Participant

# What consumers read in `data`, per type. Changing a set here is a contract change: bump the
# type's entry in api.feed.cloud_events.DATA_VERSIONS in the same change.
PUBLISHED_DATA = {
    "Registered": {"program_id"},
    "Admitted": {
        "program_id", "age_group", "level", "criteria_edition", "pathway",
        "referred_from_level", "episode",
    },
    "SteppedDown": {"from_level", "to_level", "criteria_edition", "reason"},
    "SteppedUp": {"from_level", "to_level", "criteria_edition", "reason"},
    "SessionAttended": {"service", "duration_minutes", "modality", "track"},
    "SessionMissed": {"service", "duration_minutes", "modality", "track"},
    "ScreeningResultRecorded": {"specimen", "status", "results", "prescribed"},
    "Reassessed": {
        "dimensions", "recommended_level", "decided_level", "criteria_edition", "rationale",
    },
    "Discharged": {"reason", "to_level"},
    "EntryCorrected": {"corrected_event_id", "reason"},
}  # fmt: skip
HIDDEN = ENVELOPE_FIELDS | CHAIN_FIELDS | {"originator_topic"}


def test_published_data_fields_are_pinned_per_type() -> None:
    """Each participant event type publishes exactly the pinned fields (see DATA_VERSIONS)."""
    for name, fields in PUBLISHED_DATA.items():
        event_class = getattr(Participant, name)
        declared = {f for f in get_type_hints(event_class) if not f.startswith("originator")}
        declared -= HIDDEN
        assert declared == fields, name


def test_type_names_round_trip() -> None:
    """`SessionAttended` <-> `org.continuum.participant.session_attended.v1`."""
    assert snake_case("ScreeningResultRecorded") == "screening_result_recorded"
    for name in PUBLISHED_DATA:
        assert event_name_of_type(cloud_event_type(name)) == name
        assert event_name_of_type(name) == name


def test_consent_book_decides_at_disclosure_time() -> None:
    """A consent permits its recipient and scope only between grant and revocation or expiry."""
    now = datetime(2026, 3, 2, tzinfo=UTC)
    participant = uuid4()
    consent = Consent.grant(
        uuid4(),
        participant_id=participant,
        recipient_id="billing",
        scope=["SessionAttended"],
        known_types=PUBLISHED_DATA,
        expires_at=now + timedelta(days=30),
        occurred_at=now,
        recorded_by="clinician",
        now=now,
    )
    consent.revoke(reason="withdrawn", recorded_by="clinician", now=now + timedelta(days=10))
    book = ConsentBook()
    for event in consent.collect_events():
        book.apply(event)
    permits = book.permits
    assert permits(participant, "billing", "SessionAttended", now + timedelta(days=1))
    assert not permits(participant, "billing", "Admitted", now + timedelta(days=1))
    assert not permits(participant, "someone-else", "SessionAttended", now + timedelta(days=1))
    assert not permits(participant, "billing", "SessionAttended", now + timedelta(days=11))
    assert not permits(participant, "billing", "SessionAttended", now - timedelta(days=1))
