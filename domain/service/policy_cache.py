"""Each program's policy timeline, kept per program and checked against its stream's version.

Every compliance read judges by the program's policy timeline. Rebuilding it from the
program's events (load and copy the aggregate, parse every recorded policy) cost ~15% of a
compliance read under load (py-spy, docs/performance.md). A program's stream is append-only,
so the timeline at a stream version never changes: a read asks the store only whether the
stream has grown past the version it has (one indexed look, no rows decoded), and rebuilds
only when it has. A change recorded by any process is therefore seen by the next read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder

from domain.policy import DEFAULT_POLICY, PolicyTimeline
from domain.program import Program, program_stream_id


class PolicyCache:
    """`timeline(program_id)`: current with the store, rebuilt only when the stream grew."""

    def __init__(self, recorder: AggregateRecorder, load: Callable[[str], Program | None]) -> None:
        self._recorder = recorder
        self._load = load
        self._lock = threading.Lock()
        # program id -> (stream version, its timeline); version 0: no stream (the defaults).
        self._timelines: dict[str, tuple[int, PolicyTimeline]] = {}

    def timeline(self, program_id: str) -> PolicyTimeline:
        return self.versioned(program_id)[1]

    def kept(self, program_id: str) -> int | None:
        """The version of the program's timeline kept here (None: none kept yet), unchecked."""
        with self._lock:
            cached = self._timelines.get(program_id)
        return cached[0] if cached is not None else None

    def versioned(
        self, program_id: str, *, unchanged_since: int | None = None
    ) -> tuple[int, PolicyTimeline]:
        """(the program stream's version, 0 if none; the timeline at that version).

        `unchanged_since`: the caller has just looked (after its read began) and the stream
        had nothing past this version, so a timeline kept at that version or later is current
        without another look."""
        with self._lock:
            cached = self._timelines.get(program_id)
        version = cached[0] if cached is not None else 0
        if cached is not None and unchanged_since is not None and version >= unchanged_since:
            return cached
        if cached is not None and not self._grown(program_stream_id(program_id), version):
            return cached
        program = self._load(program_id)
        fresh = (
            (program.version, program.timeline)
            if program is not None
            else (0, PolicyTimeline(DEFAULT_POLICY))
        )
        with self._lock:
            # A concurrent read may have cached a newer version meanwhile: keep the newest.
            kept = self._timelines.get(program_id)
            if kept is None or kept[0] <= fresh[0]:
                self._timelines[program_id] = fresh
        return fresh

    def _grown(self, stream_id: UUID, version: int) -> bool:
        return bool(self._recorder.select_events(stream_id, gt=version, limit=1))
