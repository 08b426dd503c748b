"""The service layer: one Application that executes commands and answers queries.

`execute(command, recorded_by=..., now=...)` takes a command value (domain.commands); the caller
hands in who records it and when, so the domain never reads a clock or a session. Each command
reads its aggregate, applies the command to it and saves it; for participants that cycle runs
in the write engine (domain.service.write_engine: locks, last-saved cache, retries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, ClassVar, overload
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording
from eventsourcing.utils import EnvType

from domain.chain import ChainReport
from domain.chained import ChainedAggregate
from domain.commands import (
    Admit,
    ChangePolicy,
    GrantConsent,
    ParticipantCommand,
    PolicyRecorded,
    Recorded,
    RevokeConsent,
)
from domain.consent import ConsentRecorded
from domain.errors import ParticipantNotFound, VersionConflict
from domain.participant import CORRECTABLE_ENTRIES, Participant
from domain.policy import PolicyTimeline, ProgramPolicy
from domain.program import Program, program_stream_id
from domain.service.consent_commands import ConsentCommands
from domain.service.consents import ConsentFollower
from domain.service.direct_save import DirectSave
from domain.service.fresh_reads import FreshReads
from domain.service.idempotency import IdempotencyKey, earlier_receipt
from domain.service.policy_cache import PolicyCache
from domain.service.snapshots import SealedSnapshots, SnapshotRejections
from domain.service.verification import VERIFY_LOG_BATCH, Verification, VerifyProgress
from domain.service.write_engine import MAX_COMMAND_ATTEMPTS, WriteEngine
from domain.timeline import DateAsISO, TimelineEntry, in_clinical_order


class ContinuumApplication(SealedSnapshots, ConsentCommands, DirectSave):
    """Records and reads participants' journeys."""

    name = "Continuum"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Participant: 100}
    env: ClassVar[dict[str, str]] = {
        "AGGREGATE_CACHE_MAXSIZE": "5000",
        "AGGREGATE_CACHE_FASTFORWARD": "y",
        "COMPRESSOR_TOPIC": "",
        # The library's JSON transcoder, decoding with orjson (domain/service/transcoder.py).
        "TRANSCODER_TOPIC": "domain.service.transcoder:OrjsonDecodingTranscoder",
    }

    def __init__(self, env: EnvType | None = None) -> None:
        self.snapshot_rejections = SnapshotRejections()
        super().__init__(env)
        self._writes = WriteEngine(self)
        self._verification = Verification(
            self.recorder,
            self.mapper,
            snapshots=None if self.snapshots is None else self.snapshots.recorder,
            seal_key=self.seal_key,
        )
        self._consents = ConsentFollower()  # read by ConsentCommands
        self._fresh_peeks: FreshReads[Participant] = FreshReads()
        # The zone of programs whose policy names none (api.settings: CONTINUUM_TIMEZONE).
        self.default_timezone = self.env.get("CONTINUUM_TIMEZONE") or "UTC"
        self._policies = PolicyCache(self.recorder, self._get_program)
        # Told the type names of each save's new events, once they are stored (metrics).
        self.on_appended: Callable[[list[str]], None] | None = None

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        if self.on_appended is not None:
            self.on_appended([type(r.domain_event).__name__ for r in recordings])

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ---- commands -------------------------------------------------------------------------

    @overload
    def execute(
        self,
        command: ParticipantCommand,
        *,
        recorded_by: str,
        now: datetime,
        expected_version: int | None = None,
        idempotency: IdempotencyKey | None = None,
        check: Callable[[Participant], None] | None = None,
    ) -> Recorded: ...

    @overload
    def execute(
        self, command: GrantConsent | RevokeConsent, *, recorded_by: str, now: datetime
    ) -> ConsentRecorded: ...

    @overload
    def execute(
        self, command: ChangePolicy, *, recorded_by: str, now: datetime
    ) -> PolicyRecorded: ...

    def execute(
        self,
        command: ParticipantCommand | GrantConsent | RevokeConsent | ChangePolicy,
        *,
        recorded_by: str,
        now: datetime,
        expected_version: int | None = None,
        idempotency: IdempotencyKey | None = None,
        check: Callable[[Participant], None] | None = None,
    ) -> Recorded | ConsentRecorded | PolicyRecorded:
        """Record the command; If-Match (`expected_version`) and Idempotency-Key apply to
        participant commands, the writes of one participant's stream.

        `check` (participant commands) is called with the participant, as the command will be
        applied to it, before the command is: it refuses by raising a DomainError (e.g. a
        caller's program scope). The save then proves the participant it saw was current,
        so the check needs no read of its own."""
        if isinstance(command, GrantConsent):
            return self._grant_consent(command, recorded_by=recorded_by, now=now)
        if isinstance(command, RevokeConsent):
            return self._revoke_consent(command, recorded_by=recorded_by, now=now)
        if isinstance(command, ChangePolicy):
            return self._change_policy(command, recorded_by=recorded_by, now=now)
        create = None
        if isinstance(command, Admit):
            target_id = command.participant_id or uuid4()
            admit = command

            def create() -> Participant:
                return Participant.open(admit, target_id, recorded_by=recorded_by, now=now)

        else:
            target_id = command.participant_id

        def apply(participant: Participant) -> None:
            if check is not None:
                check(participant)
            participant.execute(command, recorded_by=recorded_by, now=now)

        return self._writes.run(
            target_id,
            apply,
            idempotency=idempotency,
            expected_version=expected_version,
            create=create,
        )

    def _change_policy(
        self, command: ChangePolicy, *, recorded_by: str, now: datetime
    ) -> PolicyRecorded:
        """A program's compliance policy, in force from `now` on (never retroactive)."""
        parsed = ProgramPolicy.from_dict(command.policy)
        for _attempt in range(MAX_COMMAND_ATTEMPTS):
            program = self._get_program(command.program_id) or Program.open(
                command.program_id, recorded_by=recorded_by, now=now
            )
            program.change_policy(parsed, recorded_by=recorded_by, now=now)
            try:
                recordings = self.save(program)
            except IntegrityError:
                continue
            position = recordings[-1].notification.id
            return PolicyRecorded(command.program_id, program.version, position)
        raise VersionConflict(
            "the program's policy changed concurrently; try again", current_version=None
        )

    # ---- what the write engine reads and saves through (domain.service.write_engine) ------

    def save_participant(
        self, participant: Participant, receipt: tuple[str, str, str] | None
    ) -> int:
        return self.save(participant, idempotency=receipt)[-1].notification.id

    def earlier_receipt(self, key: IdempotencyKey) -> Recorded | None:
        """The receipt first returned for this Idempotency-Key, if it was used before."""
        return earlier_receipt(self.recorder, key)

    def resume_chain_if_unknown(self, aggregate: ChainedAggregate) -> None:
        self._verification.resume_chain_if_unknown(aggregate)

    def catch_up(self, participant: Participant) -> int:
        """Apply the events stored after the participant's version to it, in place (the write
        engine's own entry, under its lock); how many there were."""
        caught_up = 0
        for event in self.events.get(participant.id, gt=participant.version):
            if not isinstance(event, ChainedAggregate.Event):
                raise TypeError(f"not an event of a participant: {type(event).__name__}")
            event.mutate(participant)  # as the repository projects them: state and chain head
            caught_up += 1
        return caught_up

    # ---- queries --------------------------------------------------------------------------

    def get_participant(self, participant_id: UUID, version: int | None = None) -> Participant:
        """The participant's current state (or as of a stream version)."""
        return self._participant(participant_id, version=version)

    def peek_participant(self, participant_id: UUID) -> Participant:
        """The participant, current with the store, as cached: shared, not copied.

        For reads that only look at its id, program and version (scope checks, cache keys);
        copying a long stream's state cost more than the rest of such a read. Never mutate it.
        Concurrent peeks at one participant share one look at the store that began after each
        of them arrived (see FreshReads), so each still sees every write acknowledged before it.
        """
        return self._fresh_peeks.read(
            participant_id, lambda: self._participant(participant_id, deepcopy_from_cache=False)
        )

    def cached_participant(self, participant_id: UUID) -> Participant | None:
        """The participant as this process last saw it, without looking at the store: None if
        it is not cached. Current only once a look at the store confirms its version (the
        HTTP reads' one-statement path does); shared, not copied: never mutate it."""
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            found = cache.get(participant_id)
        except KeyError:
            return None
        return found if isinstance(found, Participant) else None

    def _participant(self, participant_id: UUID, **get: Any) -> Participant:
        try:
            participant: object = self.repository.get(participant_id, **get)
        except AggregateNotFoundError:
            raise ParticipantNotFound(f"no participant {participant_id}") from None
        if not isinstance(participant, Participant):  # e.g. a program's stream id
            raise ParticipantNotFound(f"no participant {participant_id}")
        return participant

    def stream(self, participant_id: UUID) -> list[Participant.Event]:
        """Every event of the participant's stream, in recorded order."""
        events = [
            event
            for event in self.events.get(participant_id)
            if isinstance(event, Participant.Event)
        ]
        if not events:
            raise ParticipantNotFound(f"no participant {participant_id}")
        return events

    def stream_tail(self, participant_id: UUID, after: int, upto: int) -> list[object]:
        """The events of a stream after version `after`, up to version `upto` (inclusive)."""
        return list(self.events.get(participant_id, gt=after, lte=upto))

    def timeline(self, participant_id: UUID) -> list[TimelineEntry]:
        """The stream in clinical order (occurred_at, then recorded order), corrections flagged."""
        return in_clinical_order(self.stream(participant_id))

    def policy_timeline(self, program_id: str, *, as_stored: bool = False) -> PolicyTimeline:
        """The program's policy at every moment (the defaults until a change is recorded),
        programs without a zone taking the service's (`as_stored`: left without one); current
        with the store, rebuilt only when the program's stream has grown."""
        timeline = self._policies.timeline(program_id)
        return timeline if as_stored else timeline.with_zone(self.default_timezone)

    def policy_version(self, program_id: str, *, unchanged_since: int | None = None) -> int:
        """The version of the program's policy stream (0 before any change), current with the
        store: what a result judged by its policy can be kept under. `unchanged_since`: the
        caller just found the stream has nothing past this version (PolicyCache.versioned)."""
        return self._policies.versioned(program_id, unchanged_since=unchanged_since)[0]

    def kept_policy_version(self, program_id: str) -> int | None:
        """The policy version kept for the program (None: none yet), without a look: what a
        caller asks the store about before `policy_version(..., unchanged_since=...)`."""
        return self._policies.kept(program_id)

    def _get_program(self, program_id: str) -> Program | None:
        try:
            program: object = self.repository.get(program_stream_id(program_id))
        except AggregateNotFoundError:
            return None
        if not isinstance(program, Program):
            return None
        self.resume_chain_if_unknown(program)
        return program

    # ---- tamper evidence (domain.service.verification) ------------------------------------

    def verify_participant(self, participant_id: UUID) -> ChainReport:
        """Recompute the participant's hash chain from the stored events; name the first break."""
        report = self._verification.stream(participant_id)
        if report.events == 0:
            raise ParticipantNotFound(f"no participant {participant_id}")
        return report

    def verify_stream(self, originator_id: UUID) -> ChainReport:
        """Recompute any stream's chain (a participant's or a program's) from the stored rows."""
        return self._verification.stream(originator_id)

    def verify_all(
        self, progress: VerifyProgress | None = None, *, batch_size: int = VERIFY_LOG_BATCH
    ) -> Iterator[ChainReport]:
        """A report per stream, in the order streams first appear in the notification log."""
        return self._verification.all(progress, batch_size=batch_size)


__all__ = [
    "CORRECTABLE_ENTRIES",
    "ChainReport",
    "ContinuumApplication",
    "IdempotencyKey",
    "Recorded",
    "TimelineEntry",
]
