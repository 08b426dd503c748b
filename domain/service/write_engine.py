"""The one write path of participant commands: lock, load, apply, save, retry.

- Threads of one process take turns per participant (striped locks), so they never race each
  other into a conflict; the retries are left for other processes.
- The participant this process last saved is kept (an LRU), so the next command on it starts
  without reading the store: one round trip per command, the save. While other processes
  keep making those entries stale, each is first caught up with the events stored after it.
- A save that loses a race to another process re-runs the command against the stream as
  stored, after a short random pause.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from typing import Protocol
from uuid import UUID

from eventsourcing.application import LRUCache
from eventsourcing.persistence import IntegrityError

from domain.commands import Recorded
from domain.errors import DomainError, ParticipantNotFound, VersionConflict
from domain.participant import Participant
from domain.service.idempotency import IdempotencyKey, receipt_row
from domain.service.striped_locks import StripedLocks

# A command that lost a race re-runs against the newer stream; a few rounds always settle it
# unless the participant is under a write storm, which then surfaces as a conflict.
MAX_COMMAND_ATTEMPTS = 10
# Upper bound of the random pause before a retry, growing per attempt, so two processes that
# collided do not collide again in lockstep.
RETRY_JITTER_SECONDS = 0.005
# Participants this process last saved, kept so the next command on one starts from them
# without reading the store: one round trip per command (the save). Another process may have
# appended meanwhile; the save then fails on the version, the entry is dropped and the command
# re-runs against the stream as stored, so a stale entry costs a retry, never a lost event.
# A command the entry refuses is re-run against the store too: only the stored stream refuses.
# Commands change an entry in place (only commands touch it, under the participant's write
# lock) and drop it whenever they fail, so a half-applied entry is never used again.
LAST_SAVED_CACHE_SIZE = 5000
# When other processes write the same participants (`serve --workers N` spreads each
# participant's writes over every worker), most entries are stale, and each stale one cost a
# save that failed, its rollback, a reload copied from the repository's cache and the command
# applied twice. Past this share of stale entries among recent commands, an entry is first
# caught up with the events stored after it (one indexed read, usually empty or one event),
# so it is current when the command is applied; below it, the save alone proves the entry
# current, one round trip per command. The share is a moving average over about
# 1 / STALE_SHARE_WEIGHT commands.
CATCH_UP_STALE_SHARE = 0.2
STALE_SHARE_WEIGHT = 1 / 16

Apply = Callable[[Participant], None]
"""A command bound to its arguments: applied to the participant, it leaves events pending."""


class ParticipantStore(Protocol):
    """What the engine needs of the application: read, save and earlier receipts."""

    def get_participant(self, participant_id: UUID) -> Participant: ...

    def save_participant(
        self, participant: Participant, receipt: tuple[str, str, str] | None
    ) -> int:
        """Save the pending events (and the idempotency receipt row); the last log position."""

    def earlier_receipt(self, key: IdempotencyKey) -> Recorded | None: ...

    def resume_chain_if_unknown(self, participant: Participant) -> None: ...

    def catch_up(self, participant: Participant) -> int:
        """Apply the events stored after the participant's version to it; how many."""


class WriteEngine:
    def __init__(self, store: ParticipantStore) -> None:
        self._store = store
        self._locks = StripedLocks()
        self._last_saved: LRUCache[UUID, Participant] = LRUCache(LAST_SAVED_CACHE_SIZE)
        # The moving share of commands whose last-saved entry was stale (see
        # CATCH_UP_STALE_SHARE). Threads update it without a lock: a lost update only
        # delays the switch by a command.
        self.stale_share = 0.0

    def run(
        self,
        participant_id: UUID,
        apply: Apply,
        *,
        idempotency: IdempotencyKey | None,
        expected_version: int | None,
        create: Callable[[], Participant] | None = None,
    ) -> Recorded:
        """Apply the command to the participant and save it, or answer the key's receipt.

        `create` opens a new stream (admissions); without it a missing participant is refused.
        """
        with self._locks.of(participant_id):
            # Checked under the lock: a retry racing its original waits and finds its receipt.
            if idempotency is not None:
                earlier = self._store.earlier_receipt(idempotency)
                if earlier is not None:
                    return earlier
            try:
                return self._attempt(participant_id, apply, idempotency, expected_version, create)
            except BaseException:
                self.forget(participant_id)  # it may hold a half-applied command
                raise

    def forget(self, participant_id: UUID) -> None:
        with suppress(KeyError):
            self._last_saved.get(participant_id, evict=True)

    def _attempt(
        self,
        participant_id: UUID,
        apply: Apply,
        idempotency: IdempotencyKey | None,
        expected_version: int | None,
        create: Callable[[], Participant] | None,
    ) -> Recorded:
        """Apply and save the command, re-running it while other processes win the race."""
        for attempt in range(MAX_COMMAND_ATTEMPTS):
            participant, unchecked_entry = self._load_applied(
                participant_id, expected_version, create, apply, from_store=attempt > 0
            )
            receipt = Recorded(
                participant_id=participant.id,
                event_id=participant.last_event_id,
                version=participant.version,
                position=None,
            )
            try:
                position = self._store.save_participant(
                    participant, receipt_row(idempotency, receipt)
                )
            except IntegrityError:
                # Either the stream moved on under us or the same key won a race.
                self.forget(participant_id)
                if unchecked_entry:
                    self._observe(stale=True)
                if idempotency is not None:
                    earlier = self._store.earlier_receipt(idempotency)
                    if earlier is not None:
                        return earlier
                if expected_version is not None:
                    raise VersionConflict(
                        "the participant's stream changed since it was read",
                        current_version=self._current_version(participant_id),
                    ) from None
                if attempt > 0:  # lost a race on the stored stream; a stale entry just retries
                    time.sleep(random.uniform(0, RETRY_JITTER_SECONDS * (attempt + 1)))
                continue
            if unchecked_entry:
                self._observe(stale=False)
            self._last_saved.put(participant_id, participant)
            return replace(receipt, position=position)
        raise VersionConflict(
            f"gave up after {MAX_COMMAND_ATTEMPTS} concurrent writes to the same participant",
            current_version=self._current_version(participant_id),
        )

    def _load_applied(
        self,
        participant_id: UUID,
        expected_version: int | None,
        create: Callable[[], Participant] | None,
        apply: Apply,
        *,
        from_store: bool,
    ) -> tuple[Participant, bool]:
        """The participant with the command applied (pending), checked against If-Match, and
        whether it is this process's last-saved entry, used without checking it is current."""
        if not from_store:
            saved = self._last_saved_entry(participant_id, expected_version)
            if saved is not None:
                checked = self.stale_share >= CATCH_UP_STALE_SHARE
                if checked:
                    self._observe(stale=self._store.catch_up(saved) > 0)
                if checked and expected_version is not None and saved.version != expected_version:
                    self.forget(participant_id)  # only the store can say who is stale
                else:
                    try:
                        apply(saved)
                    except DomainError:
                        # The entry may be behind the store: only the stored stream refuses.
                        self.forget(participant_id)
                    else:
                        return saved, not checked
            elif create is not None and expected_version is None:
                # Most admissions open a new stream: try that first; if the stream exists (a
                # readmission), the save fails on version 1 and the retry reads the store.
                return create(), False
        try:
            participant = self._store.get_participant(participant_id)
        except ParticipantNotFound:
            if create is None:
                raise
            if expected_version not in (None, 0):
                raise VersionConflict("no such participant yet", current_version=0) from None
            return create(), False
        self._store.resume_chain_if_unknown(participant)
        if expected_version is not None and participant.version != expected_version:
            raise VersionConflict(
                f"expected version {expected_version}, the stream is at {participant.version}",
                current_version=participant.version,
            )
        apply(participant)
        return participant, False

    def _observe(self, *, stale: bool) -> None:
        self.stale_share += STALE_SHARE_WEIGHT * (float(stale) - self.stale_share)

    def _last_saved_entry(
        self, participant_id: UUID, expected_version: int | None
    ) -> Participant | None:
        """The participant as this process last saved it (not a copy: see LAST_SAVED_CACHE_SIZE),
        unless the caller expects another version (then only the store can say whether the
        caller or the entry is stale)."""
        try:
            saved = self._last_saved.get(participant_id)
        except KeyError:
            return None
        if expected_version is not None and saved.version != expected_version:
            return None
        return saved

    def _current_version(self, participant_id: UUID) -> int | None:
        try:
            return self._store.get_participant(participant_id).version
        except ParticipantNotFound:
            return None
