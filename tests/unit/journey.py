"""Builds a participant's events by driving the Participant aggregate's commands (test helper)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

from api.seed.commands import admission, recorded_session
from domain.commands import (
    ChangeLevel,
    CorrectEntry,
    Discharge,
    Reassess,
    RecordScreening,
)
from domain.participant import Participant

DIMENSIONS = {"d1": 1, "d2": 0, "d3": 1, "d4": 2, "d5": 2, "d6": 1}


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
        self.participant.admit(
            admission(
                admitted_at,
                participant_id=self.participant.id,
                program_id=self.participant.program_id,
                level=level,
            ),
            recorded_by="clinician-1",
            now=self._recorded(admitted_at, None),
        )
        return self._collect()

    def session(
        self,
        started_at: datetime,
        *,
        minutes: int = 180,
        service: str = "group",
        attended: bool = True,
        now: datetime | None = None,
    ) -> str:
        self.participant.record_session(
            recorded_session(
                self.participant.id,
                started_at,
                minutes,
                attended=attended,
                service=service,
                modality="CBT",
            ),
            recorded_by="clinician-1",
            now=self._recorded(started_at, now),
        )
        return self._collect()

    def screen(
        self,
        collected_at: datetime,
        *,
        status: str = "valid",
        results: dict[str, str] | None = None,
        prescribed: Sequence[str] = (),
    ) -> str:
        if results is None:
            results = {} if status != "valid" else {"opioids": "negative"}
        self.participant.record_screening(
            RecordScreening(
                participant_id=self.participant.id,
                specimen="urine",
                status=status,
                results=results,
                prescribed=prescribed,
                collected_at=collected_at,
            ),
            recorded_by="clinician-1",
            now=self._recorded(collected_at, None),
        )
        return self._collect()

    def reassess(self, assessed_at: datetime, *, decided_level: str = "2.1") -> str:
        self.participant.reassess(
            Reassess(
                participant_id=self.participant.id,
                dimensions=DIMENSIONS,
                recommended_level=decided_level,
                decided_level=decided_level,
                criteria_edition=None,
                rationale="continued stay review",
                assessed_at=assessed_at,
            ),
            recorded_by="clinician-1",
            now=self._recorded(assessed_at, None),
        )
        return self._collect()

    def change_level(self, effective_at: datetime, to_level: str) -> str:
        self.participant.change_level(
            ChangeLevel(
                participant_id=self.participant.id,
                to_level=to_level,
                criteria_edition=None,
                reason="team decision",
                effective_at=effective_at,
            ),
            recorded_by="clinician-1",
            now=self._recorded(effective_at, None),
        )
        return self._collect()

    def discharge(self, discharged_at: datetime, *, reason: str = "completed") -> str:
        self.participant.discharge(
            Discharge(
                participant_id=self.participant.id,
                reason=reason,
                to_level=None,
                discharged_at=discharged_at,
            ),
            recorded_by="clinician-1",
            now=self._recorded(discharged_at, None),
        )
        return self._collect()

    def correct(self, event_id: str, *, now: datetime | None = None) -> str:
        self.participant.correct_entry(
            CorrectEntry(
                participant_id=self.participant.id,
                event_id=UUID(event_id),
                reason="entered in error",
            ),
            recorded_by="clinician-2",
            now=self._recorded(self.last_recorded, now),
        )
        return self._collect()
