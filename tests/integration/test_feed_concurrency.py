"""No missed events: a consumer paging while many writers append sees each event once, in order."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

from api.bootstrap import open_url
from api.feed.events import PARTICIPANT_TOPIC_PREFIX, FeedQuery
from api.seed.commands import admission, recorded_session
from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication

WRITERS = 4
PARTICIPANTS_PER_WRITER = 6
SESSIONS_PER_PARTICIPANT = 8
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ADMITTED = NOW - timedelta(days=30)


def _write(application: ContinuumApplication, writer: int) -> None:
    try:
        for n in range(PARTICIPANTS_PER_WRITER):
            recorded = application.execute(
                admission(ADMITTED, program_id=f"program-{writer % 2}", level="2.1"),
                recorded_by=f"writer-{writer}",
                now=NOW,
            )
            for day in range(SESSIONS_PER_PARTICIPANT):
                application.execute(
                    recorded_session(
                        recorded.participant_id, ADMITTED + timedelta(days=day, hours=n), 180
                    ),
                    recorded_by=f"writer-{writer}",
                    now=NOW,
                )
    finally:
        application.close()


def test_paging_consumer_sees_every_event_once_in_order_under_concurrent_writers(
    postgres_url: str,
) -> None:
    """Given four writer threads (each its own application and connections) appending to
    PostgreSQL, when a consumer pages GET-/v1/events-style with `after=` until the writers are
    done and one more page is empty, then the positions it saw are strictly increasing and equal
    every participant event's position in the log: nothing skipped, nothing twice."""
    service = open_url(postgres_url)
    reader, feed = service.application, service.feed
    # Opened one by one: concurrent CREATE TABLE IF NOT EXISTS races in PostgreSQL's catalog.
    applications = [
        ContinuumApplication(env=parse_store_url(postgres_url, pool_size=2).settings)
        for _ in range(WRITERS)
    ]
    writers = [threading.Thread(target=_write, args=(app, w)) for w, app in enumerate(applications)]
    for thread in writers:
        thread.start()
    seen: list[int] = []
    cursor = 0
    events_read_while_writing = 0
    try:
        while True:
            writing = any(thread.is_alive() for thread in writers)
            page = feed.read(FeedQuery(after=cursor, limit=7), recipient=None, now=NOW)
            seen += [item.position for item in page.items]
            events_read_while_writing += len(page.items) if writing else 0
            cursor = page.next_after
            if not writing and not page.items:
                break
        logged = [
            n.id
            for n in reader.recorder.select_notifications(start=None, limit=1_000_000)
            if n.topic.startswith(PARTICIPANT_TOPIC_PREFIX)
        ]
    finally:
        for thread in writers:
            thread.join()
        reader.close()
    expected = WRITERS * PARTICIPANTS_PER_WRITER * (2 + SESSIONS_PER_PARTICIPANT)
    assert len(logged) == expected
    assert events_read_while_writing > 0, "the consumer never overlapped the writers"
    assert all(a < b for a, b in itertools.pairwise(seen))
    assert seen == logged
