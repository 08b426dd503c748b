"""Several processes following one view on PostgreSQL: one folds at a time (the lease), the
views still follow every write, and another takes over when the leader goes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from api.bootstrap import Service, open_url
from api.seed.commands import admission
from api.storage.views import Views

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.postgres


def until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def services(postgres_url: str) -> Iterator[list[Service]]:
    opened = [open_url(postgres_url), open_url(postgres_url)]
    try:
        yield opened
    finally:
        for service in opened:
            service.views.stop()
            service.close()


def admit(service: Service) -> int:
    recorded = service.application.execute(
        admission(datetime(2026, 2, 2, 9, tzinfo=UTC), program_id="p1", level="2.1"),
        recorded_by="test",
        now=NOW,
    )
    assert recorded.position is not None
    return recorded.position


def leads(views: Views) -> bool:
    return views.runner.lease is not None and views.runner.lease()


def counting_commits(views: Views) -> list[int]:
    """The positions this process's runner commits batches at."""
    committed: list[int] = []
    commit = views.store.commit

    def counted(rows: object, position: int, start: int | None = None) -> None:
        commit(rows, position, start)  # type: ignore[arg-type]
        committed.append(position)

    views.store.commit = counted  # type: ignore[method-assign]
    return committed


def test_one_process_folds_and_another_takes_over_when_it_stops(services: list[Service]) -> None:
    """Given two processes' views on one store, when both follow and writes arrive (through
    either), then exactly one holds the lease and only it commits batches, and both see every
    write; when the leader stops, the other takes the lease and follows new writes."""
    first, second = (service.views for service in services)
    commits = [counting_commits(first), counting_commits(second)]
    for views in (first, second):
        views.start()
    # Until its LISTEN connection is up a process folds anyway (it cannot contend for the
    # lease yet): wait for both to be connected, then for one of them to hold the lease.
    assert until(lambda: all(v.listener is not None and v.listener.connected.is_set()
                             for v in (first, second)))  # fmt: skip
    assert until(lambda: leads(first) != leads(second))

    positions = [admit(services[n % 2]) for n in range(6)]

    for views in (first, second):
        assert views.runner.wait_for(positions[-1], timeout=10)
    leaders = [leads(views) for views in (first, second)]
    assert sorted(leaders) == [False, True]
    leader = leaders.index(True)
    assert commits[1 - leader] == []
    assert commits[leader]

    (first, second)[leader].stop()
    other = (first, second)[1 - leader]
    assert until(lambda: leads(other), timeout=10)
    later = admit(services[leader])
    assert other.runner.wait_for(later, timeout=10)
    assert commits[1 - leader]
    assert len(list(other.store.all_rows())) == 7
