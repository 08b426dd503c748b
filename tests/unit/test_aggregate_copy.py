"""The aggregate's deep copy (taken by the repository for every command and read)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from domain.commands import Admit, CorrectEntry, RecordSession
from domain.participant import Participant

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def admitted() -> Participant:
    participant = Participant.register(
        uuid4(), "prog", occurred_at=NOW - timedelta(days=9), recorded_by="t", now=NOW
    )
    participant.admit(
        Admit(
            participant_id=participant.id,
            program_id="prog",
            age_group="adult",
            level="2.1",
            criteria_edition="3",
            pathway="primary",
            referred_from_level=None,
            admitted_at=NOW - timedelta(days=9),
        ),
        recorded_by="t",
        now=NOW,
    )
    participant.collect_events()
    return participant


def session(participant: Participant, days_ago: int) -> None:
    participant.record_session(
        RecordSession(
            participant_id=participant.id,
            attended=True,
            service="group",
            duration_minutes=60,
            modality=None,
            track=None,
            started_at=NOW - timedelta(days=days_ago),
        ),
        recorded_by="t",
        now=NOW,
    )


def test_a_copy_equals_the_original_field_for_field() -> None:
    """A deep copy has the same state (ids, times, entries, chain head) as the original."""
    original = admitted()
    session(original, 3)
    original.collect_events()

    copied = copy.deepcopy(original)

    assert type(copied) is Participant
    assert vars(copied) == vars(original)


def test_a_command_on_the_copy_leaves_the_original_untouched() -> None:
    """Given a copy, a command and a correction applied to it change neither the original's
    version, entries, corrections, chain head nor pending events."""
    original = admitted()
    session(original, 3)
    original.collect_events()
    before = copy.deepcopy(vars(original))

    copied = copy.deepcopy(original)
    session(copied, 2)
    copied.correct_entry(
        CorrectEntry(participant_id=copied.id, event_id=copied.last_event_id, reason="wrong day"),
        recorded_by="t",
        now=NOW,
    )

    assert vars(original) == before
    assert copied.version == original.version + 2
    assert copied.entries.keys() > original.entries.keys()
    assert copied.corrected and not original.corrected
