"""`continuum rebuild --workers N` and `--online`: rebuilds that use more cores, or keep serving.

--workers N   participants are split by id into N partitions (projections.partitions.partition_of);
              each partition is folded by its own process as a tracked projection of its share
              (ViewStore.partition), up to the head the rebuild started at. When all reach it,
              one transaction makes the view whole again at that position. Killed midway,
              `--resume` carries on from each partition's tracked position.
--online      the view is rebuilt into new tables beside the live ones while the service keeps
              serving from (and following into) the live ones; once the new tables have caught
              up with the live position, one transaction puts them in the live tables' place
              (ViewStore.replace_with), so a reader sees the old view or the new one, never
              none and never an older position.
"""

from __future__ import annotations

import multiprocessing

from api.bootstrap import Service, open_service
from api.cli.progress import Progress
from api.logging import configure_logging
from api.settings import Settings
from projections.participant_view import ParticipantViewFold
from projections.runner import ViewRunner, fewer_collections
from projections.view_store import VIEW_NAME, ViewStore

# The fresh tables of an online rebuild, beside the live ones.
ONLINE_VIEW_NAME = "participant_views_next"
# An online rebuild's switch waits for its tables to reach the live position: it catches up
# and tries again, at most this many times (each catch-up covers what arrived meanwhile).
SWITCH_ATTEMPTS = 50


def view_runner(
    service: Service,
    store: ViewStore,
    batch_size: int,
    partition: tuple[int, int] | None = None,
) -> ViewRunner:
    """A runner folding the service's log into `store` (a fresh table, or one partition)."""
    return ViewRunner(
        service.application.recorder,
        service.application.mapper,
        store,
        ParticipantViewFold(),
        batch_size=batch_size,
        partition=partition,
    )


def _fold_partition(
    index: int, count: int, until: int, view_name: str, batch_size: int, show: bool
) -> None:
    """One worker process: partition `index` of `count`, caught up to `until`."""
    settings = Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    with open_service(settings) as service:
        runner = view_runner(service, service.view_store(view_name), batch_size, (index, count))
        bar = Progress(f"rebuild ({count} workers)") if show else None
        with fewer_collections():
            runner.catch_up(progress=bar, until=until, prefetch=True)
        if bar is not None:
            bar.close()


def parallel_rebuild(
    service: Service,
    workers: int,
    *,
    batch_size: int,
    view_name: str = VIEW_NAME,
    resume: bool = False,
) -> int:
    """Rebuild `view_name` with `workers` processes; returns the position it is whole at."""
    store = service.view_store(view_name)
    if resume:
        counts = {name.rsplit("/", 1)[1] for name in store.partition_positions()}
        if not counts:
            raise RebuildError("no partitioned rebuild to resume; run it without --resume")
        if counts != {str(workers)}:
            raise RebuildError(
                f"the interrupted rebuild used --workers {'/'.join(sorted(counts))}; "
                "resume it with the same number"
            )
    else:
        store.drop_tables()
        # Each partition tracked at 0 before any folds: from here the view reads as
        # partitioned, and a whole-view runner (a server's) keeps off it until the end.
        for index in range(workers):
            store.partition(index, workers).commit([], 0)
    # Resumed partitions stand at different positions; each catches up to this one head.
    until = service.application.recorder.max_notification_id() or 0
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=_fold_partition,
            args=(index, workers, until, view_name, batch_size, index == 0),
            name=f"continuum-rebuild-{index}",
        )
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [p.name for p in processes if p.exitcode != 0]
    if failed:
        raise RebuildError(
            f"{', '.join(failed)} failed; `continuum rebuild --workers {workers} --resume` "
            "carries on from where each partition stopped"
        )
    reached = store.partition_positions()
    behind = {name: pos for name, pos in reached.items() if pos < until}
    if behind:
        raise RebuildError(f"partitions short of position {until}: {behind}")
    store.adopt_partitions(until)
    return until


class RebuildError(Exception):
    """A rebuild that could not finish; the message says how to carry on."""


def online_rebuild(service: Service, *, batch_size: int, workers: int = 1) -> int:
    """Rebuild beside the live views, catch up, switch; returns the position switched at."""
    live = service.views.store
    fresh_store = service.view_store(ONLINE_VIEW_NAME)
    if workers > 1:
        parallel_rebuild(service, workers, batch_size=batch_size, view_name=ONLINE_VIEW_NAME)
        fresh_store = service.view_store(ONLINE_VIEW_NAME)
    fresh = view_runner(service, fresh_store, batch_size)
    if workers <= 1:
        bar = Progress("rebuild (online)")
        fresh.rebuild(progress=bar)
        bar.close()
    for _attempt in range(SWITCH_ATTEMPTS):
        # The live views move on while this runs (the service keeps writing): catch the
        # fresh ones up to the head, then switch if they reached the live position.
        fresh.catch_up()
        if live.replace_with(fresh_store):
            return live.position()
    raise RebuildError(
        f"the new views did not reach the live position in {SWITCH_ATTEMPTS} attempts"
    )
