"""The command path: get + command + save per request, as an HTTP write runs it.

The mix: admit each participant (2 events), then rounds of one command each, two sessions for
every screening. 1 writer runs in this process. 4 writers are measured two ways:

- 4 threads sharing one application, as one server process runs concurrent requests (its
  threadpool); this is the figure the target is checked against;
- 4 processes, each with its own application and one writer: four single-threaded servers.
  On a 2-core machine that runs 4 Python processes beside 4 database backends, and the
  context switching roughly doubles the CPU each event costs; it is reported for comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from api.bench.common import Timed, in_processes, split, timed
from api.bootstrap import open_url
from api.seed.commands import admission, recorded_session
from domain.commands import RecordScreening

PANEL = {"cocaine": "negative", "opiates": "negative", "thc": "negative"}


def command_mix(
    store_url: str, participants: int, per_participant: int, threads: int = 1
) -> Callable[[], int]:
    """Set up one application and `threads` writers sharing its participants between them;
    the timed part returns the events they appended."""
    # A connection per writer, and one for the application's own reads.
    app = open_url(store_url, pool_size=threads + 1).application
    now = datetime.now(UTC)
    admitted_at = now - timedelta(days=per_participant + 1)
    ids = [uuid4() for _ in range(participants)]

    def write(share: Sequence[UUID]) -> int:
        events = 0
        for pid in share:
            app.execute(
                admission(admitted_at, participant_id=pid, program_id="bench-iop", level="2.1"),
                recorded_by="bench",
                now=now,
            )
            events += 2
        for day in range(1, per_participant + 1):
            at = admitted_at + timedelta(days=day)
            for pid in share:
                if day % 3 == 0:
                    app.execute(
                        RecordScreening(
                            participant_id=pid,
                            collected_at=at,
                            specimen="urine",
                            status="valid",
                            results=PANEL,
                        ),
                        recorded_by="bench",
                        now=now,
                    )
                else:
                    app.execute(
                        recorded_session(pid, at, 180, modality="CBT", track="morning"),
                        recorded_by="bench",
                        now=now,
                    )
                events += 1
        return events

    def run() -> int:
        try:
            if threads == 1:
                return write(ids)
            with ThreadPoolExecutor(threads) as writers:
                return sum(writers.map(write, [ids[n::threads] for n in range(threads)]))
        finally:
            app.close()

    return run


def command_path(
    store_url: str, participants: int, per_participant: int, writers: int, *, processes: bool
) -> Timed:
    """`writers` writers: threads of one application, or (`processes`) one process each."""
    if not processes:
        return timed(command_mix, store_url, participants, per_participant, writers)
    shares = split(participants, writers)
    return in_processes(command_mix, [(store_url, n, per_participant) for n in shares])
