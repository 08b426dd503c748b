"""The aggregate's deep copy (taken by the repository for every command and read)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from api.seed.commands import admission, recorded_session
from domain.commands import CorrectEntry
from domain.participant import Participant

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def admitted() -> Participant:
    participant = Participant.register(
        uuid4(), "prog", occurred_at=NOW - timedelta(days=9), recorded_by="t", now=NOW
    )
    participant.admit(
        admission(
            NOW - timedelta(days=9), participant_id=participant.id, program_id="prog", level="2.1"
        ),
        recorded_by="t",
        now=NOW,
    )
    participant.collect_events()
    return participant


def session(participant: Participant, days_ago: int) -> None:
    participant.record_session(
        recorded_session(participant.id, NOW - timedelta(days=days_ago), 60),
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
