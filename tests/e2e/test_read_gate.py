"""Record reads on PostgreSQL: logged and confirmed fresh in one statement on the event loop
(api.storage.read_gate) when the participant is cached, the threaded path otherwise. Both
must give the same answers and the same access log."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient
from starlette.concurrency import run_in_threadpool

import api.http.reads as reads
from api.security.tokens import Role
from api.storage.access_log import AccessEntry
from api.storage.read_gate import GateAnswer, GateLooks, PostgresReadGate
from tests.e2e.support import NOW, OpenClient, admission, bearer, post, session


@pytest.fixture
def pg_client(postgres_url: str, open_client: OpenClient) -> TestClient:
    return open_client(postgres_url)


@pytest.fixture
def admitted(pg_client: TestClient) -> str:
    response = pg_client.post("/v1/participants", json=admission())
    assert response.status_code == 201, response.text
    return str(response.json()["participant_id"])


@pytest.fixture
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of what LoggedRead ran in the threadpool."""
    handed: list[str] = []
    original = run_in_threadpool

    async def counted(function: Any, *args: Any, **kwargs: Any) -> Any:
        handed.append(getattr(function, "__name__", repr(function)))
        return await original(function, *args, **kwargs)

    monkeypatch.setattr(reads, "run_in_threadpool", counted)
    return handed


def _gate(client: TestClient) -> PostgresReadGate:
    gate = client.app.state.read_gate  # type: ignore[attr-defined]
    assert isinstance(gate, PostgresReadGate)
    return gate


def _entries(client: TestClient, participant: str) -> list[AccessEntry]:
    access_log = client.app.state.access_log  # type: ignore[attr-defined]
    found: list[AccessEntry] = access_log.entries(participant_id=UUID(participant))
    return found


def test_a_cached_participants_read_takes_no_thread_and_is_logged(
    pg_client: TestClient, admitted: str, hand_offs: list[str]
) -> None:
    """Given a participant this app has read (so cached), when its timeline and state are read
    again, then neither read's logging took a threadpool hand-off, and each read has its own
    entry with who read what, through which route, and why."""
    warm = pg_client.get(f"/v1/participants/{admitted}")  # reads the store: now cached
    assert warm.status_code == 200 and hand_offs == ["_in_thread"]
    hand_offs.clear()

    timeline = pg_client.get(
        f"/v1/participants/{admitted}/timeline", headers={"X-Purpose-Of-Use": "COC"}
    )
    state = pg_client.get(f"/v1/participants/{admitted}")

    assert timeline.status_code == 200 and state.status_code == 200
    assert [e["version"] for e in timeline.json()["events"]] == [1, 2]
    assert hand_offs == []
    entries = _entries(pg_client, admitted)[1:]
    assert [(e.record, e.purpose, e.endpoint) for e in entries] == [
        ("timeline", "COC", "/v1/participants/{participant_id}/timeline"),
        ("state", "TREAT", "/v1/participants/{participant_id}"),
    ]
    assert all(e.sub == "test-admin" and e.role == "admin" and e.at == NOW for e in entries)
    assert all(e.request_id for e in entries)


def test_a_write_through_another_app_is_seen_and_logged_once(
    postgres_url: str, open_client: OpenClient
) -> None:
    """Given a participant cached by one app, when another app on the same database records a
    session, then the first app's next read shows it (its cached version no longer matched,
    so the threaded path read the store) and that read has exactly one entry."""
    first, second = open_client(postgres_url), open_client(postgres_url)
    participant = str(first.post("/v1/participants", json=admission()).json()["participant_id"])
    first.get(f"/v1/participants/{participant}/timeline")

    assert post(second, participant, "sessions", session()).status_code == 201
    seen = first.get(f"/v1/participants/{participant}/timeline")

    assert [e["version"] for e in seen.json()["events"]] == [1, 2, 3]
    assert [e.record for e in _entries(first, participant)] == ["timeline", "timeline"]


def test_a_cached_participant_outside_the_callers_programs_is_not_there(
    pg_client: TestClient, admitted: str
) -> None:
    """Given a cached participant of another program, a scoped clinician's read is 404 and
    leaves no entry (the scope is checked before anything is logged, as on the threaded path)."""
    clinician = bearer(Role.CLINICIAN, programs=("elsewhere",))

    refused = pg_client.get(f"/v1/participants/{admitted}/timeline", headers=clinician)

    assert refused.status_code == 404
    assert _entries(pg_client, admitted) == []


def test_a_dropped_gate_connection_falls_back_and_reconnects(
    pg_client: TestClient, admitted: str, postgres_url: str, hand_offs: list[str]
) -> None:
    """Given the gate's connection terminated by the server, the next read is still served
    and logged once (through the threaded path), and the read after goes through the gate on
    a new connection."""
    for _ in range(2):  # the first reads the store and caches; the second takes the gate
        pg_client.get(f"/v1/participants/{admitted}")
    connection = _gate(pg_client).connection
    assert connection is not None
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        # As an operator finds it: by its application_name.
        [pid] = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'continuum-read-gate' "
            "AND datname = current_database()"
        ).fetchall()
        assert pid == (connection.info.backend_pid,)
        admin.execute("SELECT pg_terminate_backend(%s)", pid)
        # The backend exits asynchronously: wait (bounded) until it is gone, so the next read
        # is the one that finds the connection cut.
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", pid).fetchone():
            assert time.monotonic() < deadline, "the gate's backend did not exit"
            time.sleep(0.01)
    hand_offs.clear()

    after_fault = pg_client.get(f"/v1/participants/{admitted}/timeline")
    handed_after_fault = list(hand_offs)
    hand_offs.clear()
    next_read = pg_client.get(f"/v1/participants/{admitted}/timeline")

    assert after_fault.status_code == 200 and next_read.status_code == 200
    assert handed_after_fault == ["_in_thread"]
    assert hand_offs == []
    records = [e.record for e in _entries(pg_client, admitted)]
    assert records == ["state", "state", "timeline", "timeline"]


def test_concurrent_looks_log_exactly_the_current_ones(
    pg_client: TestClient, admitted: str, postgres_url: str
) -> None:
    """Given 60 concurrent looks at two participants, half with the stream's version and half
    with a stale one, when they share statements, then exactly the current ones are logged,
    each with the id of its own row."""
    other = str(pg_client.post("/v1/participants", json=admission()).json()["participant_id"])
    gate = PostgresReadGate(_gate(pg_client).access_log, _events_table(pg_client))

    def entry(participant: str) -> AccessEntry:
        return AccessEntry(
            at=NOW + timedelta(seconds=1), sub="s", role="clinician",
            participant_id=UUID(participant), record="timeline", endpoint="/t",
            purpose="TREAT", request_id=uuid4().hex,
        )  # fmt: skip

    asked = [(entry(p), 2 if n % 2 == 0 else 1) for n in range(30) for p in (admitted, other)]

    async def main() -> list[GateAnswer | None]:
        try:
            return await asyncio.gather(*(gate.log_if_current(e, v) for e, v in asked))
        finally:
            await gate.close()

    answers = asyncio.run(main())

    logged = [a.entry for a in answers if a is not None]
    assert [a is not None for a in answers] == [v == 2 for _, v in asked]
    with psycopg.connect(postgres_url) as conn:
        rows: dict[int, str] = dict(
            conn.execute(
                f"SELECT id, request_id FROM {gate.access_log.table_name} WHERE at = %s",
                (NOW + timedelta(seconds=1),),
            ).fetchall()
        )
    assert rows == {a.id: a.request_id for a in logged}
    with psycopg.connect(postgres_url) as conn:  # one transaction (xmin) per statement
        [(statements,)] = conn.execute(
            f"SELECT count(DISTINCT xmin::text) FROM {gate.access_log.table_name} WHERE at = %s",
            (NOW + timedelta(seconds=1),),
        ).fetchall()
    assert 1 <= statements < len(logged)


def _events_table(client: TestClient) -> str:
    recorder = client.app.state.application.recorder  # type: ignore[attr-defined]
    return str(recorder.events_table_name)


def test_a_cached_compliance_read_asks_the_views_and_the_policy_in_the_same_statement(
    pg_client: TestClient, admitted: str, hand_offs: list[str]
) -> None:
    """Given a participant and its program's policy read once (both now cached), when its
    compliance is read again, then no part of the logged read took a threadpool hand-off, and
    the report is the one the threaded path gave."""
    # The views fold the admission in the background: until they have, a report's `position`
    # may move between the two reads (seen once in CI). Both reads start after they have.
    state = pg_client.app.state  # type: ignore[attr-defined]
    head = state.application.recorder.max_notification_id()
    assert state.views.runner.wait_for(head, timeout=10)
    first = pg_client.get(f"/v1/participants/{admitted}/compliance")
    hand_offs.clear()

    again = pg_client.get(f"/v1/participants/{admitted}/compliance")

    assert first.status_code == 200 and again.status_code == 200
    assert hand_offs == []
    assert again.json() == first.json()


def test_the_gate_tells_a_policy_that_grew_and_the_views_position(
    pg_client: TestClient, admitted: str
) -> None:
    """Given looks that ask about the program's policy stream at its current version and at
    one before, when they run together, then only the second is told it grew, and both get
    the views' tracking rows, which give the views' position."""
    gate = _gate(pg_client)
    views = pg_client.app.state.views  # type: ignore[attr-defined]
    program_stream = uuid4()  # no stream: any "kept" version is current
    participant_stream = UUID(admitted)  # version 2: grown past 1, not past 2
    asked = [
        GateLooks(views=True, policy=(program_stream, 0)),
        GateLooks(views=True, policy=(participant_stream, 1)),
        GateLooks(views=True, policy=(participant_stream, 2)),
    ]
    fresh = PostgresReadGate(gate.access_log, _events_table(pg_client), views.store)
    # The views follow the log in the background: let them reach its head, so the position
    # the gate reads is the one asserted below.
    head = pg_client.app.state.application.recorder.max_notification_id()  # type: ignore[attr-defined]
    assert views.runner.wait_for(head, 10)

    def entry() -> AccessEntry:
        return AccessEntry(
            at=NOW, sub="s", role="clinician", participant_id=UUID(admitted),
            record="compliance", endpoint="/c", purpose="TREAT", request_id=None,
        )  # fmt: skip

    async def main() -> list[GateAnswer | None]:
        try:
            return await asyncio.gather(*(fresh.log_if_current(entry(), 2, a) for a in asked))
        finally:
            await fresh.close()

    answers = asyncio.run(main())

    assert all(a is not None for a in answers)
    assert [a.grown for a in answers if a is not None] == [False, True, False]
    for answer in answers:
        assert answer is not None
        assert views.store.position_in(answer.tracked) == views.store.position()
