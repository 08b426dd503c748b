"""`continuum rebuild --workers N`, `--resume`, `project --partition i/N` and `rebuild --online`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any
from uuid import UUID, uuid4

from api.bootstrap import Service, open_url
from api.cli.rebuilds import online_rebuild
from api.seed.synthetic_log import write_log
from domain.application import ContinuumApplication
from projections.participant_view import ParticipantViewFold
from projections.partitions import PartitionReader, partition_of
from projections.runner import ViewRunner
from tests.integration.test_rebuild_kill import REPO, run

PARTICIPANTS, EVENTS_EACH = 100, 350


def continuum_group(url: str, *args: str) -> subprocess.Popen[str]:
    """`continuum ARGS` in its own process group (so its workers can be killed with it)."""
    env = {**os.environ, "CONTINUUM_DATABASE_URL": url, "CONTINUUM_LOG_FORMAT": "console"}
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args], cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip


def clean_digest(url: str) -> str:
    """The digest of a one-worker rebuild of the same store."""
    assert run(url, "rebuild").returncode == 0
    with open_url(url) as opened:
        return opened.view_store().digest()


def test_a_rebuild_with_workers_has_the_digest_of_one_worker(
    url: str, service: Service, app: ContinuumApplication
) -> None:
    """Given a log of ~3.5k events, when `continuum rebuild --workers 3` runs, then the views
    are whole (tracked as one view at the head) and their digest equals a one-worker
    rebuild's; every participant's row is there once."""
    write_log(app, participants=10, events_per_participant=350)
    head = app.recorder.max_notification_id()

    parallel = run(url, "rebuild", "--workers", "3")

    assert parallel.returncode == 0, parallel.stderr
    views = service.view_store()
    assert views.position() == head and not views.partitioned()
    assert views.partition_positions() == {}
    digest = views.digest()
    assert len(list(views.all_rows())) == 10
    assert digest == clean_digest(url)


def test_a_partitioned_rebuild_killed_midway_resumes_to_the_same_digest(
    url: str, service: Service, app: ContinuumApplication
) -> None:
    """Given a log of ~35k events, when `rebuild --workers 2` is killed (all its processes)
    while a partition stands between 0 and the head, then `project --once` leaves the
    partitioned view alone, and `rebuild --workers 2 --resume` makes it whole with the digest
    of a clean one-worker rebuild."""
    write_log(app, participants=PARTICIPANTS, events_per_participant=EVENTS_EACH)
    head = app.recorder.max_notification_id()
    assert head is not None
    views = service.view_store()

    rebuild = continuum_group(url, "rebuild", "--workers", "2")
    killed_at = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and rebuild.poll() is None:
        parts = views.partition_positions()
        if any(0 < p < head for p in parts.values()):
            os.killpg(rebuild.pid, signal.SIGKILL)
            killed_at = parts
            break
        time.sleep(0.005)
    rebuild.communicate(timeout=30)
    assert killed_at is not None, "the rebuild finished before it could be killed"
    assert views.partitioned() and views.position() < head

    # A whole-view runner must not fold over partitions (it would apply events twice).
    assert run(url, "project", "--once").returncode == 0
    assert views.partitioned()
    refused = run(url, "rebuild", "--workers", "3", "--resume")
    assert refused.returncode == 1 and "--workers 2" in refused.stderr

    resumed = run(url, "rebuild", "--workers", "2", "--resume")

    assert resumed.returncode == 0, resumed.stderr
    assert views.position() == head and not views.partitioned()
    assert views.digest() == clean_digest(url)


def test_live_partition_workers_keep_the_view_together(
    url: str, service: Service, app: ContinuumApplication
) -> None:
    """Given a log, when `project --once --partition 0/2` and `1/2` run, then each writes
    only its participants' rows, the view's position is the lower partition's, and
    `rebuild --verify` finds the view identical to a clean rebuild."""
    write_log(app, participants=12, events_per_participant=30)
    head = app.recorder.max_notification_id()
    views = service.view_store()
    views.drop_tables()

    assert run(url, "project", "--once", "--partition", "0/2").returncode == 0
    first = {row.participant_id for row in views.all_rows()}
    assert first and all(partition_of(UUID(pid), 2) == 0 for pid in first)
    assert views.position() == 0  # partition 1 has no position yet: nothing is complete
    assert run(url, "project", "--once", "--partition", "1/2").returncode == 0

    assert views.position() == head and views.partitioned()
    verified = run(url, "rebuild", "--verify")
    assert verified.returncode == 0, verified.stderr
    bad = run(url, "project", "--once", "--partition", "2/2")
    assert bad.returncode == 2 and "0 <= I < N" in bad.stderr


def test_an_online_rebuild_switches_with_no_failed_or_older_reads(
    service: Service, app: ContinuumApplication
) -> None:
    """Given caught-up views following a log that keeps growing, and 4 threads reading the
    views' position and a participant's row without pause, when `rebuild --online` runs,
    then no read fails, no reader sees the position go back, and afterwards the views equal
    a clean rebuild."""
    write_log(app, participants=40, events_per_participant=200)
    views = service.views
    views.start()
    some_id = next(iter(views.store.all_rows())).participant_id
    stop = threading.Event()
    failures: list[BaseException] = []
    went_back: list[tuple[int, int]] = []
    reads = [0]

    def reader() -> None:
        last = 0
        while not stop.is_set():
            try:
                position = views.store.position()
                row = views.store.get(some_id)
                assert row is not None and row.participant_id == some_id
            except BaseException as error:  # every failure is the test's finding
                failures.append(error)
                continue
            if position < last:
                went_back.append((last, position))
            last = position
            reads[0] += 1

    def writer() -> None:
        seed = 2  # a new participant each round (write_log's ids come from the seed)
        while not stop.is_set():
            try:
                write_log(app, participants=1, events_per_participant=20, seed=seed)
            except BaseException as error:
                failures.append(error)
                return
            seed += 1
            time.sleep(0.02)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    try:
        switched_at = online_rebuild(service, batch_size=1000)
    finally:
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    views.runner.catch_up()
    views.stop()

    assert failures == [] and went_back == []
    assert reads[0] > 100
    assert (app.recorder.max_notification_id() or 0) > 40 * 200  # the log grew meanwhile
    assert switched_at > 0
    fresh = service.view_store("participant_views_check")
    checker = ViewRunner(app.recorder, app.mapper, fresh, ParticipantViewFold())
    checker.rebuild(until=views.store.position())
    assert fresh.digest() == views.store.digest()


def test_postgres_chooses_the_same_partition_as_python(postgres_url: str) -> None:
    """Given 500 random ids, the SQL expression a PostgreSQL partition select filters on puts
    each id in the partition `partition_of` names, for power-of-two counts (the last byte
    decides) and others (the whole 128-bit id)."""
    import psycopg

    from projections.partitions import partition_sql

    ids = [uuid4() for _ in range(500)]
    with psycopg.connect(postgres_url) as conn:
        for count in (1, 2, 3, 4, 5, 7, 8, 12, 16):
            expression = partition_sql(count, "uuid_send(id)")
            rows = conn.execute(
                f"SELECT id, {expression} FROM unnest(%s::uuid[]) AS id",
                (ids,),
            ).fetchall()
            assert {row[0]: row[1] for row in rows} == {i: partition_of(i, count) for i in ids}


def test_a_postgres_partition_reads_only_its_share_and_covers_the_log(postgres_url: str) -> None:
    """Given a log of 10 participants on PostgreSQL, when each of 3 partitions is read in
    batches of 50, then each batch holds only its partition's events, together they hold every
    event once, and every partition's reads reach the head."""
    with open_url(postgres_url) as opened:
        write_log(opened.application, participants=10, events_per_participant=30)
        recorder = opened.application.recorder
        assert isinstance(recorder, PartitionReader)
        head = recorder.max_notification_id()
        everything = recorder.select_notifications(start=1, limit=10_000)
        seen: list[int] = []
        for index in range(3):
            position = 0
            while True:
                batch, reached = recorder.select_partition(position, 50, None, index, 3)
                if reached is None:
                    break
                assert all(partition_of(n.originator_id, 3) == index for n in batch)
                seen += [n.id for n in batch]
                position = reached
            assert position == head
    mine = [n.id for n in everything if isinstance(n.originator_id, UUID)]
    assert sorted(seen) == sorted(mine)


def test_a_postgres_partition_batch_is_a_window_of_positions_up_to_stop(
    postgres_url: str,
) -> None:
    """Given a log of 300 events on PostgreSQL, when partition 1 of 2 is read in batches of 20
    up to a stop short of the head, then each batch holds, in log order, exactly its share of
    the next 40 positions (never past the stop), and the reads end at the stop."""
    with open_url(postgres_url) as opened:
        write_log(opened.application, participants=10, events_per_participant=30)
        recorder = opened.application.recorder
        assert isinstance(recorder, PartitionReader)
        everything = recorder.select_notifications(start=1, limit=10_000)
        stop = everything[250].id
        position = 0
        while True:
            batch, reached = recorder.select_partition(position, 20, stop, 1, 2)
            if reached is None:
                break
            assert reached == min(position + 40, stop)
            expected = [
                n.id
                for n in everything
                if position < n.id <= reached
                and isinstance(n.originator_id, UUID)
                and partition_of(n.originator_id, 2) == 1
            ]
            assert [n.id for n in batch] == expected
            position = reached
        assert position == stop


def test_a_postgres_read_of_partition_0_of_1_is_the_library_s_read_of_the_log(
    postgres_url: str,
) -> None:
    """Given a log of 300 events on PostgreSQL, when it is read as partition 0 of 1 in batches
    of 64 (binary results), then the notifications are the library's select of the whole log
    (text results), field by field and in order."""
    with open_url(postgres_url) as opened:
        write_log(opened.application, participants=10, events_per_participant=30)
        recorder = opened.application.recorder
        assert isinstance(recorder, PartitionReader)
        everything = recorder.select_notifications(start=1, limit=10_000)
        read: list[Any] = []
        position = 0
        while True:
            batch, reached = recorder.select_partition(position, 64, None, 0, 1)
            if reached is None:
                break
            read += batch
            position = reached
    assert read == list(everything)
    assert all(type(n.state) is bytes and type(n.originator_id) is UUID for n in read)
