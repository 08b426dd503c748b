"""Builds a participant's events by driving the Participant aggregate's commands (test helper)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

from api.seed.commands import admission, recorded_session
from domain.commands import ParticipantCommand
from domain.participant import Participant
from tests import make
from tests.make import DIMENSIONS


def at(day: date | str, hour: int = 9) -> datetime:
    """`day` (a date or 'YYYY-MM-DD') at `hour`:00 UTC."""
    parsed = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime(parsed.year, parsed.month, parsed.day, hour, tzinfo=UTC)


class Journey:
    """One participant, admitted at construction; each method records one entry and returns
    the new event's id as text. `events` holds the whole stream in recorded order."""

    def __init__(
        self,
        admitted_at: datetime,
        *,
        level: str = "2.1",
        age_group: str = "adult",
        pathway: str = "primary",
        referred_from_level: str | None = None,
        program_id: str = "program-a",
        participant_id: UUID | None = None,
    ) -> None:
        self.participant = Participant.register(
            participant_id or uuid4(),
            program_id,
            occurred_at=admitted_at,
            recorded_by="clinician-1",
            now=admitted_at,
        )
        self.participant.admit(
            admission(
                admitted_at,
                participant_id=self.participant.id,
                program_id=program_id,
                age_group=age_group,
                level=level,
                pathway=pathway,
                referred_from_level=referred_from_level,
            ),
            recorded_by="clinician-1",
            now=admitted_at,
        )
        self.events: list[Participant.Event] = []
        self._collect()
        self.last_recorded = admitted_at

    @property
    def id(self) -> str:
        return str(self.participant.id)

    def _recorded(self, occurred_at: datetime, now: datetime | None) -> datetime:
        self.last_recorded = max(now or occurred_at + timedelta(minutes=1), self.last_recorded)
        return self.last_recorded

    def _collect(self) -> str:
        for event in self.participant.collect_events():
            assert isinstance(event, Participant.Event)
            self.events.append(event)
        return str(self.participant.last_event_id)

    def readmit(self, admitted_at: datetime, *, level: str = "2.1") -> str:
        pid, program = self.participant.id, self.participant.program_id
        command = admission(admitted_at, participant_id=pid, program_id=program, level=level)
        return self._record(command, admitted_at)

    def session(
        self,
        started_at: datetime,
        *,
        minutes: int = 180,
        service: str = "group",
        attended: bool = True,
        now: datetime | None = None,
    ) -> str:
        command = recorded_session(
            self.participant.id,
            started_at,
            minutes,
            attended=attended,
            service=service,
            modality="CBT",
        )
        return self._record(command, started_at, now)

    def screen(
        self,
        collected_at: datetime,
        *,
        status: str = "valid",
        results: dict[str, str] | None = None,
        prescribed: Sequence[str] = (),
    ) -> str:
        command = make.screening(
            self.participant.id, collected_at, status=status, results=results, prescribed=prescribed
        )
        return self._record(command, collected_at)

    def reassess(
        self,
        assessed_at: datetime,
        *,
        decided_level: str = "2.1",
        recommended_level: str | None = None,
        dimensions: Mapping[str, int] = DIMENSIONS,
        rationale: str = "continued stay review",
        now: datetime | None = None,
    ) -> str:
        command = make.reassessment(
            self.participant.id,
            assessed_at,
            dimensions=dimensions,
            recommended=recommended_level or decided_level,
            decided=decided_level,
            rationale=rationale,
        )
        return self._record(command, assessed_at, now)

    def change_level(self, effective_at: datetime, to_level: str) -> str:
        command = make.level_change(
            self.participant.id, to_level, effective_at, reason="team decision"
        )
        return self._record(command, effective_at)

    def discharge(self, discharged_at: datetime, *, reason: str = "completed") -> str:
        return self._record(
            make.discharge(self.participant.id, discharged_at, reason=reason), discharged_at
        )

    def correct(self, event_id: str, *, now: datetime | None = None) -> str:
        self.participant.correct_entry(
            make.correction(self.participant.id, UUID(event_id), reason="entered in error"),
            recorded_by="clinician-2",
            now=self._recorded(self.last_recorded, now),
        )
        return self._collect()

    def _record(
        self, command: ParticipantCommand, occurred_at: datetime, now: datetime | None = None
    ) -> str:
        """Record `command` by clinician-1, entered a minute after `occurred_at` unless `now`."""
        self.participant.execute(
            command, recorded_by="clinician-1", now=self._recorded(occurred_at, now)
        )
        return self._collect()
