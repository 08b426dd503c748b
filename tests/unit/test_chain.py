"""The hash chain: canonical content, hashes, and verify naming the first broken link.

Pure: events come from driving the aggregates directly; "stored" copies are rebuilt from their
field dicts the way the library's mapper decodes them, with no application and no database.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Snapshot
from eventsourcing.utils import get_topic

from domain.chain import (
    CHAIN_FIELDS,
    GENESIS,
    Unreadable,
    canonical_json,
    event_content,
    event_hash,
    verify_chain,
)
from domain.chained import ChainedAggregate, ChainUnknown
from domain.participant import Participant
from domain.policy import DEFAULT_POLICY
from domain.program import Program
from tests import make
from tests.make import ADMITTED, PROGRAM, USER, admission, recorded_session

NOW = ADMITTED + timedelta(days=30)


def admitted(participant_id: UUID | None = None) -> Participant:
    """A participant registered and admitted at 3.5, events pending."""
    return make.admitted(now=NOW, participant_id=participant_id)


def add_entries(participant: Participant) -> None:
    """A session, a screen, a reassessment, a step-down and a correction."""
    pid, day = participant.id, ADMITTED + timedelta(days=1)
    participant.record_session(
        recorded_session(pid, day, 180, modality="CBT"), recorded_by=USER, now=NOW
    )
    participant.record_screening(
        make.screening(pid, day + timedelta(days=1)), recorded_by="lab", now=NOW
    )
    participant.reassess(make.reassessment(pid, day + timedelta(days=2)), recorded_by=USER, now=NOW)
    participant.change_level(
        make.level_change(pid, "2.1", day + timedelta(days=2)), recorded_by=USER, now=NOW
    )
    participant.correct_entry(
        make.correction(pid, participant.event_id_at(3), reason="wrong day"),
        recorded_by=USER,
        now=NOW,
    )


def journey() -> list[Participant.Event]:
    participant = admitted()
    add_entries(participant)
    return list(participant.collect_events())  # type: ignore[arg-type]


def stored(event: object, **changes: Any) -> Any:
    """A decoded copy of `event` (as the mapper builds it), with some stored fields changed."""
    copy = object.__new__(type(event))
    object.__setattr__(copy, "__dict__", {**vars(event), **changes})
    return copy


def as_v1(event: object) -> Any:
    """`event` as an older release stored it, read back through the v1 -> v2 upcaster."""
    state = {k: v for k, v in vars(event).items() if k not in CHAIN_FIELDS}
    type(event).upcast_v1_v2(state)  # type: ignore[attr-defined]
    copy = object.__new__(type(event))
    object.__setattr__(copy, "__dict__", state)
    return copy


def rehashed(events: list[Any]) -> list[Any]:
    """The events re-chained from scratch: what a tamperer with the rule could produce."""
    previous = GENESIS
    result = []
    for event in events:
        content = event_content(get_topic(type(event)), vars(event))
        sealed = event_hash(previous, content)
        result.append(stored(event, previous_hash=previous, event_hash=sealed))
        previous = sealed
    return result


# ---- canonical form and hash ----------------------------------------------------------------


def test_canonical_json_is_sorted_compact_with_iso_datetimes_and_uuid_strings() -> None:
    """Given content with a datetime, a UUID and nested values, when made canonical, then keys
    are sorted at every level, there is no whitespace, the datetime is ISO 8601 with its offset
    and the UUID is its string."""
    uid = UUID("12345678-1234-5678-1234-567812345678")
    content = {
        "b": {"z": 1, "a": [1, 2]},
        "a": datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=-6))),
        "id": uid,
    }
    assert canonical_json(content) == (
        '{"a":"2026-01-05T09:00:00-06:00","b":{"a":[1,2],"z":1},'
        '"id":"12345678-1234-5678-1234-567812345678"}'
    )


def test_event_hash_is_sha256_of_the_content_with_previous_hash_added() -> None:
    """Given content and a previous hash, the hash is sha256 hex of the canonical JSON of the
    content plus `previous_hash`, as a third party would compute it with json and hashlib."""
    content = {"topic": "t", "originator_version": 2, "reason": "é"}
    expected = hashlib.sha256(
        json.dumps(
            {**content, "previous_hash": "abc"}, sort_keys=True, separators=(",", ":")
        ).encode()
    ).hexdigest()
    assert event_hash("abc", content) == expected
    assert event_hash("abd", content) != expected
    assert event_hash("abc", {**content, "reason": "e"}) != expected


def test_content_leaves_out_the_chain_fields_and_names_the_topic() -> None:
    """The content hashed is every stored field but the hashes, plus the event's topic."""
    event = journey()[2]
    content = event_content(get_topic(type(event)), vars(event))
    assert content["topic"] == "continuum.Participant.SessionAttended.v1"
    assert not CHAIN_FIELDS & content.keys()
    assert {"originator_id", "originator_version", "timestamp", "duration_minutes"} <= set(content)


# ---- the aggregate seals its events ---------------------------------------------------------


def test_every_new_event_is_chained_from_genesis() -> None:
    """Given a participant's new events, each names the previous event's hash, the first names
    GENESIS, each hash matches its content, and the aggregate's last_hash is the last hash."""
    participant = admitted()
    add_entries(participant)
    events = list(participant.pending_events)
    assert events[0].previous_hash == GENESIS  # type: ignore[attr-defined]
    for before, after in itertools.pairwise(events):
        assert after.previous_hash == before.event_hash  # type: ignore[attr-defined]
    assert participant.last_hash == events[-1].event_hash  # type: ignore[attr-defined]
    report = verify_chain(events)
    assert report.ok and report.sealed
    assert (report.events, report.chained, report.legacy, report.broken) == (7, 7, 0, 0)
    assert report.head_hash == participant.last_hash


def test_program_events_are_chained_too() -> None:
    """Given a program opened and its policy changed, its stream verifies."""
    program = Program.open(PROGRAM, recorded_by=USER, now=NOW)
    program.change_policy(DEFAULT_POLICY, recorded_by=USER, now=NOW)
    report = verify_chain(program.collect_events())
    assert report.ok and report.chained == 2


def test_replaying_the_events_restores_last_hash() -> None:
    """Given stored events, when the aggregate is rebuilt from them, its last_hash is the last
    event's hash, so the next command chains on from it."""
    events = journey()
    rebuilt: Any = None
    for event in events:
        rebuilt = stored(event).mutate(rebuilt)
    assert rebuilt.last_hash == events[-1].event_hash


def test_event_classes_are_shape_2_under_their_fixed_topics() -> None:
    """Every participant and program event class is class_version 2 and upcasts from v1; the
    topics (which name the kind of event) are unchanged."""
    classes = [
        cls
        for aggregate in (Participant, Program)
        for cls in vars(aggregate).values()
        if isinstance(cls, type) and issubclass(cls, ChainedAggregate.Event)
    ]
    assert Participant.SessionAttended in classes and Program.PolicyChanged in classes
    for cls in classes:
        assert cls.class_version == 2
        assert callable(cls.upcast_v1_v2)
    assert Participant.SessionAttended.TOPIC == "continuum.Participant.SessionAttended.v1"
    assert Participant.class_version == Program.class_version == 2


def test_clinical_fields_leave_out_envelope_and_chain() -> None:
    """An event's clinical fields are what it says: no ids, times, author or hashes."""
    session = journey()[2]
    assert session.clinical_fields() == {
        "service": "group",
        "duration_minutes": 180,
        "modality": "CBT",
        "track": None,
    }


# ---- verify names the first broken link -----------------------------------------------------


def test_an_edited_event_breaks_at_that_event_by_content() -> None:
    """Given a stored session whose duration was changed from 180 to 30, verify fails at that
    event (its version and event id), as a content mismatch, and the rest still link up."""
    events = journey()
    tampered = [*events[:2], stored(events[2], duration_minutes=30), *events[3:]]
    report = verify_chain(tampered)
    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.kind == "content"
    assert report.first_break.version == 3
    assert report.first_break.event_id == events[2].event_id
    assert report.broken == 1


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link() -> None:
    """Given an edited event whose own hash was recomputed, verify fails at the next event,
    whose previous_hash still names the original."""
    events = journey()
    edited = stored(events[2], duration_minutes=30)
    content = event_content(get_topic(type(edited)), vars(edited))
    resealed = stored(edited, event_hash=event_hash(edited.previous_hash, content))
    report = verify_chain([*events[:2], resealed, *events[3:]])
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.version) == ("link", 4)


def test_a_deleted_event_shows_as_a_gap() -> None:
    """Given a stream with its third event removed, verify fails at version 4: a gap."""
    events = journey()
    report = verify_chain([*events[:2], *events[3:]])
    assert report.first_break is not None
    assert report.first_break.kind == "gap"
    assert report.first_break.version == 4
    assert "version 3 is missing" in report.first_break.detail


def test_an_unreadable_event_is_a_named_break_not_a_crash() -> None:
    """Given a row that could not be decoded, verify names it as unreadable at its version."""
    events = journey()
    bad = Unreadable(events[2].originator_id, 3, "cannot decrypt", events[2].event_id)
    report = verify_chain([*events[:2], bad, *events[3:]])
    assert report.first_break is not None
    assert report.first_break.kind == "unreadable"
    assert (report.first_break.version, report.first_break.event_id) == (3, events[2].event_id)
    assert report.events == len(events)


def test_a_rechained_whole_stream_verifies_which_is_why_heads_are_kept_elsewhere() -> None:
    """Given a whole stream edited and re-chained from scratch, verify passes but the head hash
    differs from the original's: only a head kept elsewhere shows such a rewrite."""
    events = journey()
    forged = rehashed([*events[:2], stored(events[2], duration_minutes=30), *events[3:]])
    report = verify_chain(forged)
    assert report.ok
    assert report.head_hash != verify_chain(events).head_hash


# ---- streams from before the chain (v1) -----------------------------------------------------


def legacy_then_chained() -> tuple[list[Any], Participant]:
    """Three v1 events read back through the upcaster, then two chained by the aggregate."""
    old = [as_v1(e) for e in journey()[:3]]
    participant: Any = None
    for event in old:
        participant = event.mutate(participant)
    add_more = participant
    add_more.discharge(
        make.discharge(add_more.id, ADMITTED + timedelta(days=5)), recorded_by=USER, now=NOW
    )
    add_more.admit(
        admission(
            ADMITTED + timedelta(days=6),
            participant_id=add_more.id,
            program_id=PROGRAM,
            level="2.1",
        ),
        recorded_by=USER,
        now=NOW,
    )
    return [*old, *add_more.collect_events()], add_more


def test_v1_events_upcast_as_unchained() -> None:
    """Given an event stored in the v1 shape, the upcaster gives it no hashes (None)."""
    old = as_v1(journey()[2])
    assert (old.previous_hash, old.event_hash) == (None, None)
    assert old.duration_minutes == 180


def test_a_legacy_prefix_is_sealed_by_the_first_chained_event() -> None:
    """Given three v1 events then new events, verify passes, counts 3 legacy and 2 chained, and
    the first chained event names the on-the-fly hash of the legacy prefix."""
    events, participant = legacy_then_chained()
    report = verify_chain(events)
    assert report.ok and report.sealed
    assert (report.legacy, report.chained) == (3, 2)
    assert verify_chain(events[:3]).head_hash == events[3].previous_hash
    assert participant.last_hash == events[-1].event_hash


def test_a_legacy_only_stream_verifies_but_is_not_sealed() -> None:
    """Given only v1 events, verify passes (nothing contradicts) but reports them unsealed."""
    report = verify_chain([as_v1(e) for e in journey()])
    assert report.ok and not report.sealed
    assert report.legacy == 7


def test_an_edited_legacy_event_breaks_the_first_chained_link() -> None:
    """Given a v1 event edited after the chain began, verify fails at the first chained event:
    nothing sealed the legacy event itself."""
    events, _ = legacy_then_chained()
    events[2] = stored(events[2], duration_minutes=30)
    report = verify_chain(events)
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.version) == ("link", 4)


def test_hashes_stripped_after_the_chain_began_are_a_break() -> None:
    """Given a chained event stored back without its hashes (as if v1), verify names it."""
    events = journey()
    stripped = [*events[:4], as_v1(events[4]), *events[5:]]
    report = verify_chain(stripped)
    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.version) == ("unchained", 5)


# ---- snapshots from before the chain --------------------------------------------------------


def test_a_pre_chain_snapshot_leaves_the_head_unknown_until_resumed() -> None:
    """Given a snapshot taken before the chain (no last_hash, no class_version), the rebuilt
    participant refuses to write until its chain head is resumed, then chains from it."""
    participant = admitted()
    add_entries(participant)
    events = participant.collect_events()
    snapshot = Snapshot.take(participant)
    old_state = {k: v for k, v in snapshot.state.items() if k not in ("last_hash", "class_version")}
    old = stored(snapshot, state=old_state)
    rebuilt: Any = old.mutate(None)
    assert rebuilt.last_hash is None and not rebuilt.chain_known

    def record() -> None:
        rebuilt.discharge(make.discharge(rebuilt.id, NOW), recorded_by=USER, now=NOW)

    with pytest.raises(ChainUnknown):
        record()
    rebuilt.resume_chain(verify_chain(events).head_hash)
    record()
    assert verify_chain([*events, *rebuilt.collect_events()]).ok
