"""The one log follower the feed's consents and programs share: it applies each followed event
once, in log order, and a later catch-up reads only what was recorded since."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from api.bootstrap import open_url
from api.feed.events import ProgramFollower
from api.seed.synthetic_log import write_log
from domain.participant import Participant
from domain.service.log_follower import LogFollower


class Registrations(LogFollower):
    """Records the (participant, version) of every Registered event it is handed."""

    topics: ClassVar[tuple[str, ...]] = (Participant.Registered.TOPIC,)

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Any, int]] = []

    def apply(self, event: Any) -> None:
        self.seen.append((event.originator_id, event.originator_version))


def test_a_follower_applies_each_followed_event_once_in_log_order(database_url: str) -> None:
    """Given a log of 4 participants, when a follower catches up, more are written, and it
    catches up again, then it has applied each Registered event exactly once, in log order,
    and its position is the log's head both times."""
    with open_url(database_url) as service:
        app = service.application
        follower = Registrations()
        write_log(app, participants=4, events_per_participant=6, seed=1)
        first = follower.catch_up(app.recorder, app.mapper)
        assert first == app.recorder.max_notification_id()
        write_log(app, participants=3, events_per_participant=6, seed=2)
        second = follower.catch_up(app.recorder, app.mapper)

        registered = [
            (n.originator_id, n.originator_version)
            for n in app.recorder.select_notifications(start=None, limit=10_000)
            if n.topic == Participant.Registered.TOPIC
        ]
        assert second == app.recorder.max_notification_id()
        assert second > first
        assert follower.seen == registered and len(registered) == 7


def test_the_program_follower_answers_as_of_a_version(database_url: str) -> None:
    """The feed's program follower, caught up to a position, names each participant's
    program as of any version after registration (and none before the stream began)."""
    with open_url(database_url) as service:
        app = service.application
        write_log(app, participants=2, events_per_participant=5, seed=3, programs=2)
        programs = ProgramFollower()
        programs.catch_up(app.recorder, app.mapper, app.recorder.max_notification_id())
        first = UUID(str(app.recorder.select_notifications(start=None, limit=1)[0].originator_id))
        assert programs.program_at(first, 5).startswith("program-")
        assert programs.program_at(first, 0) == ""
