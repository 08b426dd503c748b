"""The public event feed: participant events after a log position, filtered, consent-checked.

Cursors are log positions ("after N"), never counts: positions have gaps. `next_after` is the
last position *scanned*, so a page advances past events the caller may not see (other kinds of
event, other programs, events without a consent), and an empty page whose `next_after` equals
`after` means the caller is level with the log.

No event can be skipped by a reader: every backend makes positions visible in commit order
(PostgreSQL appends under a table lock, SQLite and memory serialise writes), so a row that
becomes visible later always has a higher position than anything already read.

Consent (42 CFR Part 2) is decided at disclosure time, i.e. now: a recipient receives a
participant's event when one of the participant's consents to that recipient is granted, not
revoked, not expired, and covers the event's kind (`all`, or its name; a correction is covered
when the corrected entry's kind is). Only Participant events are published: program policy and
consents are internal (a consent names other recipients, so it is never disclosed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from api.feed.cloud_events import cloud_event_type, event_name_of_type, to_cloud_event
from api.http.metrics import DISCLOSURE_LOG_FAILURES
from api.storage.disclosure_log import Disclosure, DisclosureLog
from domain.application import ContinuumApplication
from domain.consent import participant_event_types
from domain.errors import InvalidValue
from domain.participant import Participant
from domain.service.consents import ConsentFollower
from domain.service.log_follower import LogFollower

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_TYPES = 50
# One request scans at most this many positions, so a recipient with consents for few
# participants still gets a prompt (possibly empty) page that moves its cursor forward.
SCAN_BUDGET = 20_000
PUBLISHED_TYPES = frozenset(participant_event_types())
PARTICIPANT_TOPIC_PREFIX = f"{Participant.TOPIC}."
_PROGRAM_TOPICS = (Participant.Registered.TOPIC, Participant.Admitted.TOPIC)


class UnknownEventTypes(InvalidValue):
    """`types=` names a kind of event the feed does not publish (422, listing the valid ones)."""

    def __init__(self, unknown: Sequence[str]) -> None:
        self.valid = [
            spelling
            for name in sorted(PUBLISHED_TYPES)
            for spelling in (name, cloud_event_type(name))
        ]
        super().__init__(
            "types",
            f"unknown event types {sorted(unknown)[:5]}; valid: event names such as "
            f"{', '.join(sorted(PUBLISHED_TYPES))}, or their CloudEvent types "
            "(org.continuum.participant.<snake_case>.v1)",
        )


@dataclass(frozen=True)
class FeedQuery:
    after: int = 0
    limit: int = DEFAULT_LIMIT
    types: frozenset[str] | None = None  # event names; None: every kind
    program_id: str | None = None

    @staticmethod
    def parse_types(raw: str | None) -> frozenset[str] | None:
        """`types=SessionAttended,org.continuum.participant.discharged.v1` -> event names.

        Only the documented spellings are accepted, the event name or its full CloudEvent
        type: an unknown one is refused (422), never read as "no such events", which would let
        a consumer with a typo checkpoint past everything.
        """
        if not raw:
            return None
        asked = [t.strip() for t in raw.split(",") if t.strip()]
        if len(asked) > MAX_TYPES:
            raise InvalidValue("types", f"at most {MAX_TYPES} types")
        names = {t: event_name_of_type(t) for t in asked}
        unknown = [
            t
            for t, name in names.items()
            if name not in PUBLISHED_TYPES or (t != name and t != cloud_event_type(name))
        ]
        if unknown:
            raise UnknownEventTypes(unknown)
        return frozenset(names.values())


@dataclass(frozen=True)
class FeedItem:
    position: int
    event: Participant.Event
    program_id: str

    @property
    def participant_id(self) -> UUID:
        return self.event.originator_id

    def cloud_event(self) -> dict[str, Any]:
        return to_cloud_event(self.event, position=self.position, program_id=self.program_id)


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    next_after: int

    def disclosures(self, recipient: str, at: datetime, channel: str) -> list[Disclosure]:
        """One log row per participant whose events this page discloses."""
        by_participant: dict[UUID, list[UUID]] = {}
        for item in self.items:
            by_participant.setdefault(item.participant_id, []).append(item.event.event_id)
        return [
            Disclosure(recipient, participant, tuple(ids), at, channel)
            for participant, ids in by_participant.items()
        ]


class ProgramFollower(LogFollower):
    """Which program each participant was in at each version (from Registered and Admitted)."""

    topics: ClassVar[tuple[str, ...]] = _PROGRAM_TOPICS

    def __init__(self) -> None:
        super().__init__()
        self._programs: dict[UUID, list[tuple[int, str]]] = {}

    def apply(self, event: Any) -> None:
        program = getattr(event, "program_id", None)
        if isinstance(program, str):
            self._programs.setdefault(event.originator_id, []).append(
                (event.originator_version, program)
            )

    def program_at(self, participant_id: UUID, version: int) -> str:
        with self.lock:
            program = ""
            for since, name in self._programs.get(participant_id, ()):
                if since > version:
                    break
                program = name
            return program


class Feed:
    """Reads pages of the feed for one application; shared by the requests of a process."""

    def __init__(self, application: ContinuumApplication, log: DisclosureLog) -> None:
        self.application = application
        self.log = log
        self.programs = ProgramFollower()

    def read(self, query: FeedQuery, *, recipient: str | None, now: datetime) -> FeedPage:
        """A page of events after `query.after`; with a recipient, only what consents allow.

        Nothing is logged here: the caller logs the page's disclosures before sending it.
        """
        limit = max(1, min(query.limit, MAX_LIMIT))
        recorder = self.application.recorder
        items: list[FeedItem] = []
        cursor = query.after
        consents: ConsentFollower | None = None
        scanned = 0
        while len(items) < limit and scanned < SCAN_BUDGET:
            batch = recorder.select_notifications(
                start=cursor, limit=limit, inclusive_of_start=False
            )
            if not batch:
                break
            scanned += len(batch)
            self.programs.catch_up(recorder, self.application.mapper, batch[-1].id)
            if recipient is not None and consents is None:
                # Caught up after the rows were read: revocations up to now are all seen.
                consents = self.application.consent_follower()
            for notification in batch:
                cursor = notification.id
                if not notification.topic.startswith(PARTICIPANT_TOPIC_PREFIX):
                    continue
                event = self.application.mapper.to_domain_event(notification)
                if not isinstance(event, Participant.Event):
                    continue
                item = FeedItem(
                    notification.id,
                    event,
                    self.programs.program_at(event.originator_id, event.originator_version),
                )
                if self._wanted(item, query) and (
                    consents is None or self._permitted(item, consents, recipient or "", now)
                ):
                    items.append(item)
                    if len(items) == limit:
                        break
            if len(batch) < limit:
                break
        return FeedPage(items, cursor)

    def disclose(self, page: FeedPage, recipient: str, at: datetime, channel: str) -> None:
        """Log what `page` discloses to `recipient` (before it is sent)."""
        disclosures = page.disclosures(recipient, at, channel)
        if disclosures:
            try:
                self.log.record(disclosures)
            except Exception:
                DISCLOSURE_LOG_FAILURES.inc()  # the page is not sent: the caller sees 503
                raise

    @staticmethod
    def _wanted(item: FeedItem, query: FeedQuery) -> bool:
        if query.types is not None and type(item.event).__name__ not in query.types:
            return False
        return query.program_id is None or item.program_id == query.program_id

    def _permitted(
        self, item: FeedItem, consents: ConsentFollower, recipient: str, now: datetime
    ) -> bool:
        kinds = [type(item.event).__name__]
        if isinstance(item.event, Participant.EntryCorrected):
            kinds.append(self._corrected_kind(item.event))
        return any(consents.permits(item.participant_id, recipient, kind, now) for kind in kinds)

    def _corrected_kind(self, correction: Participant.EntryCorrected) -> str:
        participant = self.application.get_participant(correction.originator_id)
        return participant.entries.get(str(correction.corrected_event_id), "")


def published_types() -> Sequence[str]:
    return sorted(PUBLISHED_TYPES)
