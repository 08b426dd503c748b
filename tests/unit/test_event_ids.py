"""The fold's fast event id spelling agrees with the domain's public event id."""

from __future__ import annotations

from uuid import uuid4

from domain.participant import event_id_for
from projections.event_ids import event_id_text


def test_event_id_text_equals_the_domain_event_id() -> None:
    """For any participant id and stream version, event_id_text is str(event_id_for(...))."""
    for version in range(1, 300):
        participant_id = uuid4()
        assert event_id_text(participant_id, version) == str(event_id_for(participant_id, version))


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
