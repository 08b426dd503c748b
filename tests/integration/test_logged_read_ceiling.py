"""The logged read ceiling (api.bench.ceiling_server): it must do the contract's work for real,
or the share of the read ceiling it reports would flatter the contract."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest

from api.bench.ceiling_server import (
    ACCESS_TABLE,
    CEILING_TABLE,
    LOGGED_PREFIX,
    GroupedLoggedLooks,
    create_app,
    create_table,
)
from api.security.tokens import Role, mint_token

SECRET = "logged-ceiling-test-secret-0123456789abcdef"
BODY = '{"entries": []}'


@pytest.fixture
def ceiling_app(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    create_table(postgres_url)
    bodies = tmp_path / "bodies.json"
    bodies.write_text(json.dumps({"timeline": BODY, "compliance": "{}"}))
    monkeypatch.setenv("CONTINUUM_JWT_SECRET", SECRET)
    monkeypatch.setenv("CONTINUUM_CEILING_DATABASE", postgres_url)
    monkeypatch.setenv("CONTINUUM_CEILING_BODIES", str(bodies))
    return create_app()


def _entry(participant_id: UUID) -> tuple[Any, ...]:
    return (datetime.now(UTC), "reader", "clinician", participant_id, "timeline", "/t", "TREAT",
            None)  # fmt: skip


def _write_event(url: str, participant_id: UUID) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {CEILING_TABLE} (originator_id, topic, state) VALUES (%s, 't', '')",
            (participant_id,),
        )


def _transactions(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(DISTINCT xmin::text) FROM {ACCESS_TABLE}").fetchone()
    assert row is not None
    return int(row[0])


def _logged(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {ACCESS_TABLE}").fetchone()
    assert row is not None
    return int(row[0])


def test_concurrent_reads_are_each_logged_and_served_in_fewer_statements(
    ceiling_app: Any, postgres_url: str
) -> None:
    """Given 40 concurrent reads of one participant, when the logged route answers them, then
    each is 200 with the body, each has its entry committed, and the entries went in fewer
    statements than reads (the grouping the ceiling claims)."""
    token = mint_token(SECRET, role=Role.CLINICIAN, sub="reader", programs=["p"])
    path = f"{LOGGED_PREFIX}/v1/participants/{uuid4()}/timeline"

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=ceiling_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ceiling") as client:
            headers = {"Authorization": f"Bearer {token}"}
            return await asyncio.gather(*(client.get(path, headers=headers) for _ in range(40)))

    responses = asyncio.run(main())

    assert [r.status_code for r in responses] == [200] * 40
    assert {r.text for r in responses} == {BODY}
    assert _logged(postgres_url) == 40
    # Each statement is a transaction of its own (autocommit): its rows share one xmin.
    assert 1 <= _transactions(postgres_url) < 40


def test_each_look_sees_the_writes_committed_before_it_began(postgres_url: str) -> None:
    """Given a participant's events written one by one, when a look follows each write, then it
    answers the stream's version after that write (and None before any)."""
    create_table(postgres_url)
    participant = uuid4()

    async def main() -> list[int | None]:
        looks = GroupedLoggedLooks(postgres_url)
        seen = [await looks.look(_entry(participant))]
        for _ in range(3):
            _write_event(postgres_url, participant)
            seen.append(await looks.look(_entry(participant)))
        return seen

    seen = asyncio.run(main())

    assert seen[0] is None
    assert seen[1] is not None and seen[1] < seen[2] < seen[3]  # type: ignore[operator]
    assert _logged(postgres_url) == 4


def test_a_read_whose_entry_cannot_be_written_is_not_served(
    ceiling_app: Any, postgres_url: str
) -> None:
    """Given the access table gone, when a logged read arrives, then it answers 503 without the
    body; with the table back, the next read is served."""
    token = mint_token(SECRET, role=Role.CLINICIAN, sub="reader", programs=["p"])
    path = f"{LOGGED_PREFIX}/v1/participants/{uuid4()}/timeline"
    headers = {"Authorization": f"Bearer {token}"}

    async def read() -> httpx.Response:
        transport = httpx.ASGITransport(app=ceiling_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ceiling") as client:
            return await client.get(path, headers=headers)

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {ACCESS_TABLE} RENAME TO gone")
    refused = asyncio.run(read())
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE gone RENAME TO {ACCESS_TABLE}")
    served = asyncio.run(read())

    assert refused.status_code == 503 and BODY not in refused.text
    assert served.status_code == 200 and served.text == BODY
