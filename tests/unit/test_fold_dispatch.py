"""FirstMatch: a fold's handler chosen by the event's class as an if/elif chain would."""

from __future__ import annotations

from domain.participant import Participant
from projections.dispatch import FirstMatch


class Base:
    pass


class Derived(Base):
    pass


class Other:
    pass


def test_the_first_listed_class_wins_as_in_an_elif_chain() -> None:
    """A subclass listed after its base is never chosen (the chain's first isinstance check
    is true); listed before it, the subclass is chosen and the base still answers for itself."""
    base_first = FirstMatch([(Base, "base"), (Derived, "derived")])
    assert base_first(Derived) == "base"
    derived_first = FirstMatch([(Derived, "derived"), (Base, "base")])
    assert derived_first(Derived) == "derived"
    assert derived_first(Base) == "base"


def test_no_listed_class_is_none_and_tuples_match_any_of_theirs() -> None:
    either = FirstMatch([((Derived, Other), "either")])
    assert either(Other) == "either"
    assert either(Derived) == "either"
    assert either(Base) is None
    assert either(Base) is None  # asked again: the remembered answer


def test_every_participant_event_is_recorded_and_nothing_else_is() -> None:
    """Both folds of a view row count every participant event's version (each class has a
    handler, the fallback at least) and pass over events of other streams (a program's)."""
    from projections import level_of_care
    from projections.compliance import state as compliance

    participant_events = _subclasses(Participant.Event)
    assert len(participant_events) > 10
    for table in (compliance._RECORDERS, level_of_care._RECORDERS):
        assert all(table(kind) is not None for kind in participant_events)
        assert table(Other) is None
    assert compliance._RECORDERS(Participant.SteppedDown) is compliance._RECORDERS(
        Participant.LevelChanged
    )


def _subclasses(kind: type) -> set[type]:
    found: set[type] = set(kind.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found
