"""The fold's fast event id spelling agrees with the domain's public event id."""

from __future__ import annotations

from uuid import UUID, uuid4

from hypothesis import given
from hypothesis.strategies import integers, uuids

from domain.participant import event_id_for
from projections.event_ids import event_id_text


def test_event_id_text_equals_the_domain_event_id() -> None:
    """For any participant id and stream version, event_id_text is str(event_id_for(...))."""
    for version in range(1, 300):
        participant_id = uuid4()
        assert event_id_text(participant_id, version) == str(event_id_for(participant_id, version))


@given(participant_id=uuids(), version=integers(min_value=1, max_value=10**12))
def test_event_id_text_is_the_uuid5_for_an_id_given_as_text_or_as_a_uuid(
    participant_id: UUID, version: int
) -> None:
    """The fold passes the id as text, the domain as a UUID: both spell the same UUID5, with its
    version and variant bits set (every variant digit is reached across the examples)."""
    expected = str(event_id_for(participant_id, version))
    assert event_id_text(participant_id, version) == expected
    assert event_id_text(str(participant_id), version) == expected
    assert UUID(expected).version == 5


def test_the_domain_spells_event_ids_as_uuid5() -> None:
    """event_id_for is the UUID5 of "<participant id>/<version>" in the event id namespace,
    and the domain's text spelling (what aggregates file entries by) is its string form."""
    from uuid import uuid5

    from domain.participant import EVENT_ID_NAMESPACE
    from domain.participant import event_id_text as domain_text

    for version in (1, 2, 99, 10_000):
        participant_id = uuid4()
        expected = uuid5(EVENT_ID_NAMESPACE, f"{participant_id}/{version}")
        assert event_id_for(participant_id, version) == expected
        assert domain_text(participant_id, version) == str(expected)
