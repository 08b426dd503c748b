"""ContinuumApplication's contract, run against every backend by subclassing.

`ApplicationContract` holds the behaviour; `TestMemory`, `TestSQLite` and `TestPostgres` only say
where the events live and how to read the raw table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID, uuid4

import psycopg
import pytest

from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication, IdempotencyKey
from domain.errors import (
    AlreadyDischarged,
    BeforeAdmission,
    DomainError,
    IdempotencyKeyReused,
    InvalidValue,
    ParticipantNotFound,
    SameLevel,
)
from domain.participant import Participant
from tests import make
from tests.integration.application_steps import (
    DIMENSIONS,
    NOW,
    admit,
    day,
    notification_count,
    open_app,
    record,
    session,
)
from tests.make import USER


class ApplicationContract:
    """Behaviour every backend must show. Subclasses provide `url` and `raw_topics`."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    def raw_topics(self, app: ContinuumApplication, url: str, participant_id: UUID) -> list[str]:
        """The topic column of the participant's stored events, in version order."""
        raise NotImplementedError

    @pytest.fixture
    def app(self, url: str) -> Iterator[ContinuumApplication]:
        app = open_app(url)
        yield app
        app.close()

    # ---- the journey ---------------------------------------------------------------------

    def test_a_whole_journey_round_trips(self, app: ContinuumApplication) -> None:
        """Given a participant admitted to 3.5, stepped down to 2.1, with sessions, a screening,
        a reassessment and a discharge, when readmitted, then the stored stream reads back
        event for event with every field, and the state is episode 2, active at 2.1."""
        pid = admit(app, level="3.5").participant_id
        record(app, make.level_change(pid, "2.1", day(28), reason="residential goals met"))
        session(app, pid, day(29))
        session(app, pid, day(30), attended=False)
        record(
            app,
            make.screening(
                pid,
                day(31),
                results={"buprenorphine": "positive", "fentanyl": "negative"},
                prescribed=["buprenorphine"],
            ),
        )
        record(
            app, make.reassessment(pid, day(58), dimensions=DIMENSIONS, rationale="continue IOP")
        )
        record(app, make.discharge(pid, day(84)))
        readmitted = admit(app, pid, level="2.1", at=day(100))

        stream = app.stream(pid)
        assert [type(e).__name__ for e in stream] == [
            "Registered",
            "Admitted",
            "SteppedDown",
            "SessionAttended",
            "SessionMissed",
            "ScreeningResultRecorded",
            "Reassessed",
            "Discharged",
            "Admitted",
        ]
        assert [e.originator_version for e in stream] == list(range(1, 10))
        assert all(e.originator_id == pid for e in stream)
        assert all(e.recorded_by == USER and e.timestamp == NOW for e in stream)

        step_down = stream[2]
        assert isinstance(step_down, Participant.SteppedDown)
        assert (step_down.from_level, step_down.to_level, step_down.occurred_at) == (
            "3.5",
            "2.1",
            day(28),
        )
        attended = stream[3]
        assert isinstance(attended, Participant.SessionAttended)
        assert (attended.service, attended.duration_minutes, attended.modality) == (
            "group",
            180,
            "CBT",
        )
        screening = stream[5]
        assert isinstance(screening, Participant.ScreeningResultRecorded)
        assert screening.results == {"buprenorphine": "positive", "fentanyl": "negative"}
        assert screening.screening.outcome.value == "expected_positive"
        reassessed = stream[6]
        assert isinstance(reassessed, Participant.Reassessed)
        assert reassessed.dimensions == DIMENSIONS
        readmission = stream[8]
        assert isinstance(readmission, Participant.Admitted)
        assert readmission.episode == 2

        participant = app.get_participant(pid)
        assert (participant.status, participant.episode, participant.version) == ("active", 2, 9)
        assert participant.level is not None and participant.level.code == "2.1"
        assert readmitted.version == 9
        assert readmitted.event_id == participant.last_event_id

        as_discharged = app.get_participant(pid, version=8)
        assert (as_discharged.status, as_discharged.discharged_at) == ("discharged", day(84))

    def test_receipt_names_the_appended_event_and_its_log_position(
        self, app: ContinuumApplication
    ) -> None:
        """A command's receipt carries the participant, the new version, its event id and a
        position in the global log that holds that event."""
        pid = admit(app).participant_id
        receipt = session(app, pid, day(1))
        assert receipt.participant_id == pid
        assert receipt.version == 3
        assert receipt.event_id == app.stream(pid)[-1].event_id
        assert receipt.position is not None
        (notification,) = app.recorder.select_notifications(start=receipt.position, limit=1)
        assert notification.originator_id == pid
        assert notification.originator_version == 3

    def test_stored_topics_are_the_fixed_topic_strings(
        self, app: ContinuumApplication, url: str
    ) -> None:
        """The raw table holds the fixed TOPIC strings, not module paths, so moving a class never
        orphans stored events."""
        pid = admit(app, level="3.5").participant_id
        record(app, make.level_change(pid, "2.1", day(28), reason="r"))
        session(app, pid, day(29))
        assert self.raw_topics(app, url, pid) == [
            "continuum.Participant.Registered.v1",
            "continuum.Participant.Admitted.v1",
            "continuum.Participant.SteppedDown.v1",
            "continuum.Participant.SessionAttended.v1",
        ]

    # ---- timeline ------------------------------------------------------------------------

    def test_timeline_is_in_clinical_order_with_corrections_flagged(
        self, app: ContinuumApplication
    ) -> None:
        """Given a session recorded late (after a later one) and a session then corrected, the
        timeline is ordered by occurred_at, the corrected entry names its correction, and the
        correction itself stays in the history."""
        pid = admit(app, level="2.1").participant_id
        later = session(app, pid, day(5))
        earlier = session(app, pid, day(2))
        correction = record(app, make.correction(pid, later.event_id, reason="wrong participant"))

        timeline = app.timeline(pid)
        assert [entry.event.occurred_at for entry in timeline] == sorted(
            entry.event.occurred_at for entry in timeline
        )
        by_id = {entry.event.event_id: entry for entry in timeline}
        assert by_id[later.event_id].corrected_by == correction.event_id
        assert by_id[later.event_id].corrected
        assert not by_id[earlier.event_id].corrected
        assert [type(e.event).__name__ for e in timeline] == [
            "Registered",
            "Admitted",
            "SessionAttended",
            "SessionAttended",
            "EntryCorrected",
        ]
        assert timeline[2].event.event_id == earlier.event_id
        assert len(app.stream(pid)) == 5

    # ---- not found -----------------------------------------------------------------------

    def test_unknown_participant_is_not_found(self, app: ContinuumApplication) -> None:
        """Queries and commands on an id never admitted raise ParticipantNotFound."""
        unknown = uuid4()
        for query in (app.get_participant, app.stream, app.timeline):
            with pytest.raises(ParticipantNotFound):
                query(unknown)
        with pytest.raises(ParticipantNotFound):
            session(app, unknown, day(1))
        with pytest.raises(ParticipantNotFound):
            record(app, make.discharge(unknown, day(1), reason="other"))
        assert notification_count(app) == 0

    # ---- rejected commands ---------------------------------------------------------------

    def test_a_rejected_command_appends_nothing(self, app: ContinuumApplication) -> None:
        """Given an admitted participant, when commands break rules or carry bad values, then
        each raises its domain error and neither the stream nor the global log grows."""
        pid = admit(app, level="2.1").participant_id
        record(app, make.discharge(pid, day(30)))
        before_stream, before_log = len(app.stream(pid)), notification_count(app)
        with pytest.raises(AlreadyDischarged):
            record(app, make.discharge(pid, day(31)))
        with pytest.raises(BeforeAdmission):
            admit(app, pid, at=day(29))
        with pytest.raises(InvalidValue):
            admit(app, pid, level="1.5", at=day(40))  # a 4th-edition code in edition 3
        other = admit(app, level="2.1").participant_id
        before_log += 2
        with pytest.raises(SameLevel):
            record(app, make.level_change(other, "2.1", day(1), reason="r"))
        with pytest.raises(DomainError):
            admit(app, at=NOW + timedelta(hours=1))  # a new participant in the future
        assert len(app.stream(pid)) == before_stream
        assert len(app.stream(other)) == 2
        assert notification_count(app) == before_log


class DurableContract(ApplicationContract):
    """What only a store that outlives the process must show."""

    def test_idempotency_receipt_survives_closing_and_reopening(self, url: str) -> None:
        """Given a session recorded with a key, when the app is closed and another opened on the
        same store, then the retry returns the first receipt and appends nothing, and a changed
        request under that key is still refused."""
        key = IdempotencyKey("retry-restart", "fingerprint-a")
        first_app = open_app(url)
        pid = admit(first_app).participant_id
        first = session(first_app, pid, day(1), idempotency=key)
        first_app.close()

        second_app = open_app(url)
        try:
            assert session(second_app, pid, day(1), idempotency=key) == first
            assert len(second_app.stream(pid)) == 3
            with pytest.raises(IdempotencyKeyReused):
                session(second_app, pid, day(1), idempotency=IdempotencyKey(key.key, "other"))
        finally:
            second_app.close()

    def test_state_survives_closing_and_reopening(self, url: str) -> None:
        """A participant written by one app instance is read back whole by the next."""
        first_app = open_app(url)
        pid = admit(first_app, level="3.5").participant_id
        record(first_app, make.level_change(pid, "2.1", day(28), reason="r"))
        first_app.close()
        second_app = open_app(url)
        try:
            participant = second_app.get_participant(pid)
            assert participant.level is not None and participant.level.code == "2.1"
            assert participant.level_since == day(28)
            assert participant.version == 3
        finally:
            second_app.close()


class TestMemory(ApplicationContract):
    @pytest.fixture
    def url(self) -> str:
        return "memory://"

    def raw_topics(self, app: ContinuumApplication, url: str, participant_id: UUID) -> list[str]:
        return [s.topic for s in app.recorder.select_events(participant_id)]


class TestSQLite(DurableContract):
    @pytest.fixture
    def url(self, sqlite_url: str) -> str:
        return sqlite_url

    def raw_topics(self, app: ContinuumApplication, url: str, participant_id: UUID) -> list[str]:
        path = parse_store_url(url).settings["SQLITE_DBNAME"]
        with sqlite3.connect(path) as conn:
            rows = conn.execute(
                "SELECT topic FROM stored_events WHERE originator_id = ? "
                "ORDER BY originator_version",
                (participant_id.hex,),
            ).fetchall()
        return [row[0] for row in rows]


class TestPostgres(DurableContract):
    @pytest.fixture
    def url(self, postgres_url: str) -> str:
        return postgres_url

    def raw_topics(self, app: ContinuumApplication, url: str, participant_id: UUID) -> list[str]:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT topic FROM continuum_events WHERE originator_id = %s "
                "ORDER BY originator_version",
                (participant_id,),
            ).fetchall()
        return [row[0] for row in rows]
