"""Feeds the participant views from the notification log: batched catch-up, rebuild, live.

Each batch (many events) is applied in memory and committed with its tracking position in one
transaction; per-event transactions measured ~30x slower on this stack. A runner that loses a
race to another runner fails its tracking insert, rolls back, and resumes from the winner's
position, so every event is applied exactly once.

A failure is never skipped: a store error is logged and retried with backoff; an event the
fold cannot apply (a "poison" event) stops the view at the position before it, logged with
its position and type and exposed as `stalled` (readiness and metrics report it), until a fix
is deployed. Skipping it would silently serve views that disagree with the log.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import Any, Protocol

import structlog
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Mapper, PersistenceError

from projections.partitions import PartitionReader, partition_of
from projections.view_store import ViewRow, ViewStore

log = structlog.get_logger("projections.runner")

DEFAULT_BATCH_SIZE = 500
DEFAULT_MAX_CACHED_STATES = 5000
# Allocations between collections of the youngest generation during a rebuild (default 700).
REBUILD_GC_THRESHOLD = 100_000
Progress = Callable[[int, int], None]  # (position reached, head of the log)
# The longest wait between two attempts after failures (store down, poison event).
MAX_BACKOFF_SECONDS = 30.0


class FoldFailed(Exception):
    """An event the fold cannot decode or apply: the view stops before it."""

    def __init__(self, position: int, topic: str, cause: BaseException) -> None:
        super().__init__(f"event at position {position} ({topic}): {type(cause).__name__}")
        self.position = position
        self.topic = topic
        self.cause = cause


class RunnerObserver(Protocol):
    """What a runner reports as it goes (metrics); every method must be cheap."""

    def batch_committed(self, position: int, events: int) -> None: ...

    def failed(self, kind: str) -> None: ...

    def stalled(self, stalled: bool) -> None: ...


class ParticipantFold(Protocol):
    """How one participant's view state is read, advanced by an event, and written."""

    def accepts(self, event: Any) -> bool: ...

    def decode(self, row: ViewRow | None) -> Any: ...

    def apply(self, state: Any, event: Any, participant_id: str) -> Any:
        """`state` advanced by `event`; `participant_id` is the event's originator as text."""

    def encode(self, participant_id: str, state: Any) -> ViewRow: ...


@contextmanager
def fewer_collections(threshold: int = REBUILD_GC_THRESHOLD) -> Iterator[None]:
    """Run the cyclic garbage collector less often for the block (process-wide).

    A rebuild allocates millions of short-lived objects while it keeps thousands of states
    alive; at the default threshold (700 allocations) the collector scans those states over and
    over: 52 s of a 1M-event rebuild became 31 s with this. Nothing it keeps is cyclic, so the
    memory freed by reference counting is the same.
    """
    previous = gc.get_threshold()
    gc.set_threshold(threshold, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


class ViewRunner:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper[Any],
        store: ViewStore,
        fold: ParticipantFold,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        partition: tuple[int, int] | None = None,
    ) -> None:
        """`partition` (index, count): fold only the participants whose id falls in it, into
        `store` tracked as that partition (ViewStore.partition)."""
        if partition is not None:
            store = store.partition(*partition)
        self.partition = partition
        self.recorder = recorder
        self.mapper = mapper
        self.store = store
        self.fold = fold
        self.batch_size = batch_size
        self._advanced = threading.Condition()
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: BaseException | None = None
        # While following, fold only when this returns True (one of several processes
        # following the same view: projections.pg_listener's lease); None: always.
        self.lease: Callable[[], bool] | None = None
        # The poison event the view is stopped at (None while the view follows the log).
        self.stalled: FoldFailed | None = None
        self.failures = 0  # consecutive failed catch-ups
        self.observer: RunnerObserver | None = None
        # States this runner committed, valid while the store's position is still the one it
        # committed (no other runner wrote since): a batch then skips loading and decoding them.
        self._states: dict[str, Any] = {}
        self._states_position: int | None = None
        self.max_cached_states = DEFAULT_MAX_CACHED_STATES

    # ---- catch-up and rebuild -------------------------------------------------------------

    def catch_up(
        self,
        *,
        progress: Progress | None = None,
        max_batches: int | None = None,
        until: int | None = None,
        prefetch: bool = False,
        deadline: float | None = None,
    ) -> int:
        """Apply every event after the tracked position (up to `until`, if given); returns the
        position reached. With `prefetch`, the next batch is read while one is applied (the
        database's work and the transfer overlap the fold; for long replays). With `deadline`
        (time.monotonic()), stop after the batch that passes it."""
        # The log's head only feeds progress reports: live catch-ups (no progress) skip the query.
        head = 0
        if progress is not None:
            head = self.recorder.max_notification_id() or 0
            if until is not None:
                head = min(head, until)
        batches = 0
        position, partitioned = self.store.tracked_position()
        if self.partition is None and partitioned:
            # Partition runners keep this view (a partitioned rebuild or live partition
            # workers): folding every participant here would apply their events twice.
            return position
        with ExitStack() as stack:
            # Only a prefetching catch-up (a rebuild) starts a reader thread: live catch-ups
            # run every few hundred milliseconds and read inline.
            reader = (
                stack.enter_context(ThreadPoolExecutor(1, "continuum-views-read"))
                if prefetch
                else None
            )

            def select(after: int) -> Callable[[], tuple[Sequence[Any], int | None]]:
                """The batch after `after`: read now in the reader thread, or when called."""
                read = partial(self._read_batch, after, until)
                return read if reader is None else reader.submit(read).result

            pending = select(position)
            while max_batches is None or batches < max_batches:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                notifications, reached = pending()
                if reached is None or reached <= position:
                    break
                if prefetch:  # read the next batch while this one is applied
                    pending = select(reached)
                try:
                    self._apply_batch(notifications, position, reached)
                except IntegrityError:
                    # Another runner committed this batch first (or the store reported a
                    # deadlock or serialization failure): continue from the stored position.
                    position = self.store.position()
                    pending = select(position)
                    continue
                position = reached
                if self.observer is not None:
                    self.observer.batch_committed(position, len(notifications))
                if not prefetch:
                    pending = select(position)
                batches += 1
                with self._advanced:
                    self._advanced.notify_all()
                if progress is not None:
                    progress(position, max(head, position))
        return position

    def rebuild(self, *, progress: Progress | None = None, until: int | None = None) -> int:
        """Drop the views and replay the whole log from position 0 (up to `until`)."""
        self._forget_states()
        self.store.drop_tables()
        with fewer_collections():
            return self.catch_up(progress=progress, until=until, prefetch=True)

    def _read_batch(self, after: int, until: int | None) -> tuple[Sequence[Any], int | None]:
        """This runner's share of the next batch after `after`, and the position it covers
        (None: nothing new). A partition's share is chosen before decoding (the costly part),
        by the store itself when it can (PartitionReader)."""
        if self.partition is not None and isinstance(self.recorder, PartitionReader):
            return self.recorder.select_partition(after, self.batch_size, until, *self.partition)
        notifications: Sequence[Any] = self.recorder.select_notifications(
            start=after, limit=self.batch_size, stop=until, inclusive_of_start=False
        )
        if not notifications:
            return notifications, None
        reached = notifications[-1].id
        if self.partition is not None:
            index, count = self.partition
            notifications = [
                n for n in notifications if partition_of(n.originator_id, count) == index
            ]
        return notifications, reached

    def _apply_batch(self, notifications: Sequence[Any], start: int, position: int) -> None:
        """Apply events after `start` up to `position` and commit them in one transaction."""
        # Other streams (programs) share the log; their positions still advance the tracking.
        events = [e for e in self._decoded(notifications) if self.fold.accepts(e)]
        # str(UUID) is slow, and a batch has many events per participant: once per participant.
        texts: dict[Any, str] = {}
        event_pids = [
            texts.get(e.originator_id) or texts.setdefault(e.originator_id, str(e.originator_id))
            for e in events
        ]
        participant_ids = list(dict.fromkeys(event_pids))
        states = self._states_at(start, participant_ids)
        try:
            for pid, event in zip(event_pids, events, strict=True):
                try:
                    states[pid] = self.fold.apply(states[pid], event, pid)
                except Exception as error:
                    raise self._poison(notifications, event, error) from error
            rows = []
            for pid, state in states.items():
                try:
                    rows.append(self.fold.encode(pid, state))
                except Exception as error:
                    raise FoldFailed(position, "encode", error) from error
            self.store.commit(rows, position, start)
        except BaseException:
            self._forget_states()  # applied in place: the cached states are no longer stored
            raise
        self._remember_states(states, position)

    def _decoded(self, notifications: Sequence[Any]) -> list[Any]:
        try:
            return [self.mapper.to_domain_event(n) for n in notifications]
        except Exception:
            for n in notifications:  # name the event that cannot be decoded
                try:
                    self.mapper.to_domain_event(n)
                except Exception as error:
                    raise FoldFailed(n.id, n.topic, error) from error
            raise

    def _poison(self, notifications: Sequence[Any], event: Any, error: Exception) -> FoldFailed:
        """The failure of applying `event`, named by its log position and topic."""
        for n in notifications:
            if n.originator_id == event.originator_id and (
                n.originator_version == event.originator_version
            ):
                return FoldFailed(n.id, n.topic, error)
        return FoldFailed(-1, type(event).__qualname__, error)

    def _states_at(self, start: int, participant_ids: list[str]) -> dict[str, Any]:
        """Each participant's state as of log position `start` (cached, else stored)."""
        if self._states_position != start:
            self._forget_states()
        missing = [pid for pid in participant_ids if pid not in self._states]
        rows = self.store.load(missing) if missing else {}
        return {
            pid: self._states[pid] if pid in self._states else self.fold.decode(rows.get(pid))
            for pid in participant_ids
        }

    def _remember_states(self, states: dict[str, Any], position: int) -> None:
        self._states.update(states)
        while len(self._states) > self.max_cached_states:
            del self._states[next(iter(self._states))]  # the oldest first
        self._states_position = position

    def _forget_states(self) -> None:
        self._states.clear()
        self._states_position = None

    # ---- read-your-writes -----------------------------------------------------------------

    def wait_for(self, position: int, timeout: float) -> bool:
        """True once the views include `position`; False if `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        self.wake()
        with self._advanced:
            while self.store.position() < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._advanced.wait(min(remaining, 0.05))
                if self._thread is None:
                    self.catch_up()
        return True

    # ---- live mode ------------------------------------------------------------------------

    def wake(self) -> None:
        """New events may exist (a write here, a NOTIFY from elsewhere): catch up now."""
        self._wakeup.set()

    def start(self, *, poll_interval: float = 0.5) -> None:
        """Follow the log in a background thread; polling covers any lost wake-up."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._follow, args=(poll_interval,), name="continuum-views", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _follow(self, poll_interval: float) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            if self.lease is not None and not self.lease():
                self._wakeup.wait(poll_interval)  # another process folds; reads see its rows
                continue
            self._wakeup.wait(self.attempt(poll_interval))

    def attempt(self, poll_interval: float, deadline: float | None = None) -> float:
        """One catch-up, its failure logged and counted; the seconds to wait before the next.

        After a failure the wait doubles up to MAX_BACKOFF_SECONDS, and wake-ups do not
        shorten it (a failing store is not hammered on every write)."""
        try:
            self.catch_up(deadline=deadline)
        except Exception as error:  # keep following: a store blip must not stop the thread
            self.last_error = error
            self.failures += 1
            self._report(error)
            backoff = min(poll_interval * 2**self.failures, MAX_BACKOFF_SECONDS)
            self._stopping.wait(backoff)
            return 0.0
        if self.failures or self.stalled is not None:
            log.info("views_resumed", position=self.store.position(), after_failures=self.failures)
        self.last_error, self.failures = None, 0
        if self.stalled is not None:
            self.stalled = None
            if self.observer is not None:
                self.observer.stalled(False)
        return poll_interval

    def _report(self, error: Exception) -> None:
        """Log a failed catch-up (never event contents: they hold health information)."""
        position = self._position_or_none()
        if isinstance(error, FoldFailed):
            if self.observer is not None:
                self.observer.failed("fold")
                self.observer.stalled(True)
            if self.stalled is None or self.stalled.position != error.position:
                log.error(
                    "view_stalled",
                    view=self.store.tracking_name,
                    position=position,
                    event_position=error.position,
                    event_type=error.topic,
                    error_type=type(error.cause).__qualname__,
                )
            self.stalled = error
            return
        if self.observer is not None:
            self.observer.failed("store" if isinstance(error, PersistenceError) else "other")
        log.warning(
            "view_catch_up_failed",
            view=self.store.tracking_name,
            position=position,
            error_type=type(error).__qualname__,
            failures=self.failures,
        )

    def _position_or_none(self) -> int | None:
        try:
            return self.store.position()
        except Exception:  # the store that just failed may still be down
            return None
