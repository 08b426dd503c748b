"""The service layer: one Application, one method per command and per query.

Commands are handed `now` and `recorded_by` by the caller, so the domain never reads a clock
or a session. Every command returns a `Recorded` receipt naming the last event it appended.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any, ClassVar, Protocol, runtime_checkable
from uuid import UUID, uuid4

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    LRUCache,
    ProcessingEvent,
)
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Recording,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import EnvType, get_topic

from domain.chain import ChainReport, Unreadable, verify_chain
from domain.chained import ChainedAggregate
from domain.consent import (
    Consent,
    ConsentNotFound,
    ConsentRecorded,
    ConsentTerms,
    participant_event_types,
)
from domain.errors import (
    DomainError,
    IdempotencyKeyReused,
    ParticipantNotFound,
    VersionConflict,
)
from domain.fresh_reads import FreshReads
from domain.participant import CORRECTABLE_ENTRIES, Participant, event_id_for
from domain.policy import DEFAULT_POLICY, PolicyTimeline, ProgramPolicy
from domain.program import Program, program_stream_id
from domain.service.consents import ConsentFollower
from domain.striped_locks import StripedLocks

# A command that lost a race re-runs against the newer stream; a few rounds always settle it
# unless the participant is under a write storm, which then surfaces as a conflict.
MAX_COMMAND_ATTEMPTS = 10
# Notifications read per query while `verify_all` walks the log for stream ids.
VERIFY_LOG_BATCH = 1000
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


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class Recorded:
    """The receipt of a command: the event it appended and the log position it reached."""

    participant_id: UUID
    event_id: UUID
    version: int
    position: int | None

    def to_json(self) -> str:
        return json.dumps(
            {k: str(v) if isinstance(v, UUID) else v for k, v in asdict(self).items()}
        )

    @classmethod
    def from_json(cls, text: str) -> Recorded:
        data = json.loads(text)
        return cls(
            participant_id=UUID(data["participant_id"]),
            event_id=UUID(data["event_id"]),
            version=data["version"],
            position=data["position"],
        )


@dataclass(frozen=True)
class PolicyRecorded:
    """The receipt of a policy change."""

    program_id: str
    version: int
    position: int


@dataclass(frozen=True)
class IdempotencyKey:
    """A caller's retry key and a fingerprint of the request it was first sent with."""

    key: str
    fingerprint: str


@runtime_checkable
class IdempotencyRecorder(Protocol):
    """What a recorder offers when it stores idempotency keys in the events' transaction."""

    def select_idempotent_response(self, key: str) -> tuple[str, str, int | None] | None:
        """(fingerprint, receipt JSON, log position of the receipt's event) for a used key."""


VerifyProgress = Callable[[int, int], None]
"""Called by `verify_all` after each batch of the log: (streams verified, log position)."""


@dataclass(frozen=True)
class TimelineEntry:
    event: Participant.Event
    corrected_by: UUID | None

    @property
    def corrected(self) -> bool:
        return self.corrected_by is not None


class ContinuumApplication(Application[UUID]):
    """Records and reads participants' journeys."""

    name = "Continuum"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Participant: 100}
    env: ClassVar[dict[str, str]] = {
        "AGGREGATE_CACHE_MAXSIZE": "5000",
        "AGGREGATE_CACHE_FASTFORWARD": "y",
        "COMPRESSOR_TOPIC": "",
    }

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__(env)
        # Threads of one process take turns per participant, so they never race each other
        # into a conflict; the retries (MAX_COMMAND_ATTEMPTS) are left for other processes.
        self._write_locks = StripedLocks()
        self._last_saved: LRUCache[UUID, Participant] = LRUCache(LAST_SAVED_CACHE_SIZE)
        self._consents = ConsentFollower()
        self._fresh_peeks: FreshReads[Participant] = FreshReads()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, less its runtime Protocol checks when only aggregates are saved.

        The library asks of each saved object whether it is a domain event, then whether it can
        collect events, with `isinstance` against runtime Protocols; on Python 3.11 each such
        check walks the protocol's attributes, which was ~8% of a command's CPU. Aggregates
        are known to collect events; anything else (events, None) goes the library's way.
        """
        if not all(isinstance(obj, BaseAggregate) for obj in objs):
            return super().save(*objs, **kwargs)
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in objs:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, still called
        return recordings

    # ---- commands -------------------------------------------------------------------------

    def admit(
        self,
        *,
        participant_id: UUID | None,
        program_id: str,
        age_group: str,
        level: str,
        pathway: str,
        admitted_at: datetime,
        referred_from_level: str | None = None,
        criteria_edition: str = "3",
        recorded_by: str,
        now: datetime,
        expected_version: int | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Recorded:
        """Admit a new participant, or readmit a discharged one into a new episode."""
        target_id = participant_id or uuid4()

        def admit_into(participant: Participant) -> None:
            participant.admit(
                program_id=program_id,
                age_group=age_group,
                level=level,
                criteria_edition=criteria_edition,
                pathway=pathway,
                referred_from_level=referred_from_level,
                occurred_at=admitted_at,
                recorded_by=recorded_by,
                now=now,
            )

        def open_stream() -> Participant:
            participant = Participant.register(
                target_id, program_id, occurred_at=admitted_at, recorded_by=recorded_by, now=now
            )
            admit_into(participant)
            return participant

        return self._execute(
            target_id,
            admit_into,
            idempotency=idempotency,
            expected_version=expected_version,
            create=open_stream,
        )

    def change_level(
        self,
        participant_id: UUID,
        *,
        to_level: str,
        effective_at: datetime,
        reason: str,
        criteria_edition: str | None = None,
        recorded_by: str,
        now: datetime,
        expected_version: int | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Recorded:
        """Record a step-down or step-up, decided by comparing the levels."""
        return self._execute(
            participant_id,
            lambda p: p.change_level(
                to_level=to_level,
                criteria_edition=criteria_edition,
                reason=reason,
                occurred_at=effective_at,
                recorded_by=recorded_by,
                now=now,
            ),
            idempotency=idempotency,
            expected_version=expected_version,
        )

    def record_session(
        self,
        participant_id: UUID,
        *,
        service: str,
        started_at: datetime,
        duration_minutes: int,
        attended: bool,
        modality: str | None = None,
        track: str | None = None,
        recorded_by: str,
        now: datetime,
        expected_version: int | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Recorded:
        """Record a session the participant attended or missed."""
        return self._execute(
            participant_id,
            lambda p: p.record_session(
                attended=attended,
                service=service,
                duration_minutes=duration_minutes,
                modality=modality,
                track=track,
                occurred_at=started_at,
                recorded_by=recorded_by,
                now=now,
            ),
            idempotency=idempotency,
            expected_version=expected_version,
        )

    def record_screening(
        self,
        participant_id: UUID,
        *,
        collected_at: datetime,
        specimen: str,
        status: str,
        results: Mapping[str, str],
        prescribed: Sequence[str] = (),
        recorded_by: str,
        now: datetime,
        expected_version: int | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Recorded:
        """Record a drug screen's specimen status and per-substance results."""
        return self._execute(
            participant_id,
            lambda p: p.record_screening(
                specimen=specimen,
                status=status,
                results=results,
                prescribed=prescribed,
                occurred_at=collected_at,
                recorded_by=recorded_by,
                now=now,
            ),
            idempotency=idempotency,
            expected_version=expected_version,
        )

    def reassess(
        self,
        participant_id: UUID,
        *,
        assessed_at: datetime,
        dimensions: Mapping[str, object],
        recommended_level: str,
        decided_level: str,
        rationale: str,
        criteria_edition: str | None = None,
        recorded_by: str,
        now: datetime,
        expected_version: int | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Recorded:
        """Record a reassessment: the six ratings, the recommended and the decided level."""
        return self._execute(
            participant_id,
            lambda p: p.reassess(
                dimensions=dimensions,
                recommended_level=recommended_level,
                decided_level=decided_level,
                criteria_edition=criteria_edition,
                rationale=rationale,
                occurred_at=assessed_at,
                recorded_by=recorded_by,
                now=now,
            ),
            idempotency=idempotency,
            expected_version=expected_version,
        )

    def discharge(
        self,
        participant_id: UUID,
        *,
        discharged_at: datetime,
        reason: str,
        to_level: str | None = None,
        recorded_by: str,
        now: datetime,
        expected_version: int | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Recorded:
        """Close the participant's current episode."""
        return self._execute(
            participant_id,
            lambda p: p.discharge(
                reason=reason,
                to_level=to_level,
                occurred_at=discharged_at,
                recorded_by=recorded_by,
                now=now,
            ),
            idempotency=idempotency,
            expected_version=expected_version,
        )

    def correct_entry(
        self,
        participant_id: UUID,
        *,
        event_id: UUID,
        reason: str,
        recorded_by: str,
        now: datetime,
        expected_version: int | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Recorded:
        """Mark an earlier entry entered-in-error, with the reason; both stay in the history."""
        return self._execute(
            participant_id,
            lambda p: p.correct_entry(
                event_id=event_id, reason=reason, recorded_by=recorded_by, now=now
            ),
            idempotency=idempotency,
            expected_version=expected_version,
        )

    def change_policy(
        self,
        program_id: str,
        *,
        policy: Mapping[str, Any],
        recorded_by: str,
        now: datetime,
    ) -> PolicyRecorded:
        """Record a program's compliance policy, in force from `now` on (never retroactive)."""
        parsed = ProgramPolicy.from_dict(policy)
        for _attempt in range(MAX_COMMAND_ATTEMPTS):
            program = self._get_program(program_id) or Program.open(
                program_id, recorded_by=recorded_by, now=now
            )
            program.change_policy(parsed, recorded_by=recorded_by, now=now)
            try:
                recordings = self.save(program)
            except IntegrityError:
                continue
            return PolicyRecorded(program_id, program.version, recordings[-1].notification.id)
        raise VersionConflict(
            "the program's policy changed concurrently; try again", current_version=None
        )

    def grant_consent(
        self,
        participant_id: UUID,
        *,
        recipient_id: str,
        scope: Sequence[str],
        expires_at: datetime,
        signed_at: datetime | None = None,
        consent_id: UUID | None = None,
        recorded_by: str,
        now: datetime,
    ) -> ConsentRecorded:
        """Record the participant's consent to disclose events of `scope` to one recipient."""
        self.peek_participant(participant_id)
        consent = Consent.grant(
            consent_id or uuid4(),
            participant_id=participant_id,
            recipient_id=recipient_id,
            scope=scope,
            known_types=participant_event_types(),
            expires_at=expires_at,
            occurred_at=signed_at or now,
            recorded_by=recorded_by,
            now=now,
        )
        try:
            recordings = self.save(consent)
        except IntegrityError:
            raise VersionConflict(f"consent {consent.id} exists", current_version=None) from None
        position = recordings[-1].notification.id
        return ConsentRecorded(consent.id, participant_id, consent.version, position)

    def revoke_consent(
        self,
        participant_id: UUID,
        consent_id: UUID,
        *,
        reason: str,
        recorded_by: str,
        now: datetime,
    ) -> ConsentRecorded:
        """End a consent from now on; disclosures already made stay in the disclosure log.

        Revoking a revoked consent records nothing and answers the first revocation's outcome
        (`recorded` False): a client retrying after a lost answer must not see a refusal.
        """
        for _attempt in range(MAX_COMMAND_ATTEMPTS):
            consent = self.get_consent(participant_id, consent_id)
            if consent.revoked_at is not None:
                return self._revocation_of(consent)
            consent.revoke(reason=reason, recorded_by=recorded_by, now=now)
            try:
                recordings = self.save(consent)
            except IntegrityError:
                continue
            position = recordings[-1].notification.id
            return ConsentRecorded(consent.id, participant_id, consent.version, position)
        raise VersionConflict("the consent changed concurrently; try again", current_version=None)

    def _revocation_of(self, consent: Consent) -> ConsentRecorded:
        terms = self.consent_follower().terms(consent.id)
        position = terms.revoked_position if terms is not None else None
        return ConsentRecorded(
            consent.id, consent.participant_id, consent.version, position or 0, recorded=False
        )

    # ---- queries --------------------------------------------------------------------------

    def get_consent(self, participant_id: UUID, consent_id: UUID) -> Consent:
        """One of the participant's consents."""
        try:
            consent: object = self.repository.get(consent_id)
        except AggregateNotFoundError:
            consent = None
        if not isinstance(consent, Consent) or consent.participant_id != participant_id:
            raise ConsentNotFound(f"participant {participant_id} has no consent {consent_id}")
        return consent

    def consents(self, participant_id: UUID) -> list[Consent]:
        """The participant's consents, in the order they were granted."""
        self.peek_participant(participant_id)
        return [
            self.get_consent(participant_id, terms.consent_id)
            for terms in self.consent_terms(participant_id)
        ]

    def consent_follower(self) -> ConsentFollower:
        """Every consent, level with the log as of this call (what disclosures decide with)."""
        self._consents.catch_up(self.recorder, self.mapper)
        return self._consents

    def consent_terms(self, participant_id: UUID) -> list[ConsentTerms]:
        return self.consent_follower().of(participant_id)

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

    def timeline(self, participant_id: UUID) -> list[TimelineEntry]:
        """The stream in clinical order (occurred_at, then recorded order), corrections flagged."""
        events = self.stream(participant_id)
        corrected_by = {
            e.corrected_event_id: e.event_id
            for e in events
            if isinstance(e, Participant.EntryCorrected)
        }
        ordered = sorted(events, key=lambda e: (e.occurred_at, e.originator_version))
        return [TimelineEntry(e, corrected_by.get(e.event_id)) for e in ordered]

    def policy_timeline(self, program_id: str) -> PolicyTimeline:
        """The program's policy at every moment (the defaults until a change is recorded)."""
        program = self._get_program(program_id)
        return program.timeline if program is not None else PolicyTimeline(DEFAULT_POLICY)

    def _get_program(self, program_id: str) -> Program | None:
        try:
            program: object = self.repository.get(program_stream_id(program_id))
        except AggregateNotFoundError:
            return None
        if not isinstance(program, Program):
            return None
        self._resume_chain_if_unknown(program)
        return program

    # ---- tamper evidence ------------------------------------------------------------------

    def verify_participant(self, participant_id: UUID) -> ChainReport:
        """Recompute the participant's hash chain from the stored events; name the first break."""
        report = self.verify_stream(participant_id)
        if report.events == 0:
            raise ParticipantNotFound(f"no participant {participant_id}")
        return report

    def verify_stream(self, originator_id: UUID) -> ChainReport:
        """Recompute any stream's chain (a participant's or a program's) from the store.

        Reads the stored rows, not the aggregate cache, and decodes each on its own: a row that
        fails to decrypt or parse is reported as an unreadable link, not raised.
        """
        stored = self.recorder.select_events(originator_id)
        return verify_chain(
            (self._decode_for_verify(row) for row in stored),
            originator_id=originator_id,
            topic_of=_stored_topic,
        )

    def verify_all(
        self, progress: VerifyProgress | None = None, *, batch_size: int = VERIFY_LOG_BATCH
    ) -> Iterator[ChainReport]:
        """A report per stream, in the order streams first appear in the notification log.

        The log is read in batches and each stream is read once, when first seen, so memory
        holds one batch, one stream and the set of stream ids already verified.
        """
        verified: set[UUID] = set()
        position = 0
        while True:
            batch = self.recorder.select_notifications(
                start=position, limit=batch_size, inclusive_of_start=False
            )
            if not batch:
                return
            for notification in batch:
                originator_id = UUID(str(notification.originator_id))
                if originator_id in verified:
                    continue
                verified.add(originator_id)
                yield self.verify_stream(originator_id)
            position = batch[-1].id
            if progress is not None:
                progress(len(verified), position)

    def _decode_for_verify(self, row: StoredEvent) -> object:
        try:
            return self.mapper.to_domain_event(row)
        except Exception as error:  # any row that cannot be decoded is a broken link
            cause = error.__cause__ or error
            # The class name only: messages may quote stored (clinical) content.
            return Unreadable(
                originator_id=row.originator_id,
                originator_version=row.originator_version,
                reason=f"the stored event cannot be decoded ({type(cause).__name__})",
                event_id=_event_id_of_row(row),
            )

    def _resume_chain_if_unknown(self, aggregate: ChainedAggregate) -> None:
        """After a snapshot from before the chain, recompute the head from the stream."""
        if not aggregate.chain_known:
            stored = self.recorder.select_events(aggregate.id, lte=aggregate.version)
            events = (self.mapper.to_domain_event(row) for row in stored)
            aggregate.resume_chain(verify_chain(events, topic_of=_stored_topic).head_hash)

    def idempotent_response(self, key: IdempotencyKey) -> Recorded | None:
        """The receipt first returned for this key, if the key was used before."""
        recorder = self.recorder
        if not isinstance(recorder, IdempotencyRecorder):
            return None
        stored = recorder.select_idempotent_response(key.key)
        if stored is None:
            return None
        fingerprint, response, position = stored
        if fingerprint != key.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request"
            )
        return replace(Recorded.from_json(response), position=position)

    # ---- the one write path ---------------------------------------------------------------

    def _execute(
        self,
        participant_id: UUID,
        command: Callable[[Participant], None],
        *,
        idempotency: IdempotencyKey | None,
        expected_version: int | None,
        create: Callable[[], Participant] | None = None,
    ) -> Recorded:
        with self._write_locks.of(participant_id):
            # Checked under the lock: a retry racing its original waits and finds its receipt.
            if idempotency is not None:
                earlier = self.idempotent_response(idempotency)
                if earlier is not None:
                    return earlier
            try:
                return self._attempt(participant_id, command, idempotency, expected_version, create)
            except BaseException:
                self._forget_saved(participant_id)  # it may hold a half-applied command
                raise

    def _attempt(
        self,
        participant_id: UUID,
        command: Callable[[Participant], None],
        idempotency: IdempotencyKey | None,
        expected_version: int | None,
        create: Callable[[], Participant] | None,
    ) -> Recorded:
        """Apply and save the command, re-running it while other processes win the race."""
        for attempt in range(MAX_COMMAND_ATTEMPTS):
            participant = self._load_for_command(
                participant_id, expected_version, create, command, from_store=attempt > 0
            )
            receipt = Recorded(
                participant_id=participant.id,
                event_id=participant.last_event_id,
                version=participant.version,
                position=None,
            )
            try:
                recordings = self.save(
                    participant, idempotency=self._idempotency_row(idempotency, receipt)
                )
            except IntegrityError:
                # Either the stream moved on under us or the same key won a race.
                self._forget_saved(participant_id)
                if idempotency is not None:
                    earlier = self.idempotent_response(idempotency)
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
            self._last_saved.put(participant_id, participant)
            return replace(receipt, position=recordings[-1].notification.id)
        raise VersionConflict(
            f"gave up after {MAX_COMMAND_ATTEMPTS} concurrent writes to the same participant",
            current_version=self._current_version(participant_id),
        )

    def _load_for_command(
        self,
        participant_id: UUID,
        expected_version: int | None,
        create: Callable[[], Participant] | None,
        command: Callable[[Participant], None],
        *,
        from_store: bool,
    ) -> Participant:
        """The participant with the command applied (pending), checked against If-Match."""
        if not from_store:
            saved = self._last_saved_entry(participant_id, expected_version)
            if saved is not None:
                try:
                    command(saved)
                except DomainError:
                    # The entry may be behind the store: only the stored stream refuses.
                    self._forget_saved(participant_id)
                else:
                    return saved
            elif create is not None and expected_version is None:
                # Most admissions open a new stream: try that first; if the stream exists (a
                # readmission), the save fails on version 1 and the retry reads the store.
                return create()
        try:
            participant = self.get_participant(participant_id)
        except ParticipantNotFound:
            if create is None:
                raise
            if expected_version not in (None, 0):
                raise VersionConflict("no such participant yet", current_version=0) from None
            return create()
        self._resume_chain_if_unknown(participant)
        if expected_version is not None and participant.version != expected_version:
            raise VersionConflict(
                f"expected version {expected_version}, the stream is at {participant.version}",
                current_version=participant.version,
            )
        command(participant)
        return participant

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

    def _forget_saved(self, participant_id: UUID) -> None:
        with suppress(KeyError):
            self._last_saved.get(participant_id, evict=True)

    def _current_version(self, participant_id: UUID) -> int | None:
        try:
            return self.get_participant(participant_id).version
        except ParticipantNotFound:
            return None

    @staticmethod
    def _idempotency_row(
        idempotency: IdempotencyKey | None, receipt: Recorded
    ) -> tuple[str, str, str] | None:
        if idempotency is None:
            return None
        return (idempotency.key, idempotency.fingerprint, receipt.to_json())


def _stored_topic(event: object) -> str:
    return get_topic(type(event))


def _event_id_of_row(row: StoredEvent) -> UUID | None:
    """The public event id, when the row is a participant's (only those have one)."""
    if row.topic.startswith(f"{Participant.TOPIC}.") and isinstance(row.originator_id, UUID):
        return event_id_for(row.originator_id, row.originator_version)
    return None


__all__ = [
    "CORRECTABLE_ENTRIES",
    "ChainReport",
    "ContinuumApplication",
    "IdempotencyKey",
    "Recorded",
    "TimelineEntry",
]
