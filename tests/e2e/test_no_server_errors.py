"""No input reaches a 500: hostile bodies, headers and paths all get a 4xx answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.e2e.support import (
    admission,
    authorized_client,
    build_app,
    correction,
    discharge,
    level_change,
    reassessment,
    screening,
    session,
)

RESOURCES = ("level-changes", "sessions", "screenings", "reassessments", "discharge", "corrections")

HOSTILE_BODIES: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("null", b"null"),
    ("a list", b"[1, 2]"),
    ("a string", b'"x"'),
    ("deeply nested", b"[" * 20000 + b"]" * 20000),
    ("lone surrogate key", b'{"\\ud800": 1}'),
    ("NUL in text", b'{"reason": "a\\u0000b"}'),
    ("huge integer", b'{"duration_minutes": 1' + b"0" * 4000 + b"}"),
    ("NaN", b'{"duration_minutes": NaN}'),
    ("not UTF-8", b'{"reason": "\xff\xfe"}'),
    ("far-future time", b'{"started_at": "9999-12-31T23:59:59-14:00"}'),
    ("ancient time", b'{"started_at": "0001-01-01T00:00:00+14:00"}'),
]


@pytest.fixture(scope="module")
def memory_client() -> Iterator[TestClient]:
    """One in-memory app for the whole module: these tests only look at status codes."""
    with authorized_client(build_app("memory://")) as client:
        yield client


@pytest.fixture(scope="module")
def admitted(memory_client: TestClient) -> str:
    """A participant admitted once, whom every test here writes to."""
    return str(memory_client.post("/v1/participants", json=admission()).json()["participant_id"])


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize(("_", "body"), HOSTILE_BODIES, ids=[name for name, _ in HOSTILE_BODIES])
def test_hostile_bodies_are_refused(
    memory_client: TestClient, admitted: str, resource: str, _: str, body: bytes
) -> None:
    """Bodies that are not the expected object, or hold values JSON allows but nothing can
    store, are answered with 4xx, never 500."""
    response = memory_client.post(
        f"/v1/participants/{admitted}/{resource}",
        content=body,
        headers={"Content-Type": "application/json"},
    )

    assert 400 <= response.status_code < 500, response.text
    assert "error" in response.json()


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Length": "abc"},
        {"If-Match": "9" * 40},
        {"Idempotency-Key": "k" * 10000},
        {"X-Request-ID": "\x7f" * 10},
    ],
)
def test_hostile_headers_are_refused_or_ignored(
    memory_client: TestClient, admitted: str, headers: dict[str, str]
) -> None:
    """Odd headers are refused with 4xx or ignored; never a 500."""
    response = memory_client.post(
        f"/v1/participants/{admitted}/sessions",
        content=b"{}",
        headers={"Content-Type": "application/json", **headers},
    )

    assert response.status_code < 500


@pytest.mark.parametrize(
    "path",
    ["/v1/participants/%00", "/v1/participants/%ff/timeline", "/v1/participants/" + "a" * 5000],
)
def test_hostile_paths_are_refused(memory_client: TestClient, path: str) -> None:
    """Paths with odd bytes or great length are refused with 4xx."""
    assert 400 <= memory_client.get(path).status_code < 500


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
VALID_BODIES: dict[str, dict[str, Any]] = {
    "level-changes": level_change(),
    "sessions": session(),
    "screenings": screening(),
    "reassessments": reassessment(),
    "discharge": discharge(),
    "corrections": correction(str(uuid4())),
}


@pytest.mark.parametrize("resource", sorted(VALID_BODIES))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_value_in_any_field_is_never_a_500(
    memory_client: TestClient, admitted: str, resource: str, data: st.DataObject
) -> None:
    """Whatever JSON value stands in any one field of a valid write (an unknown field
    included), the answer is 201 or 4xx, never 500."""
    body = VALID_BODIES[resource]
    field = data.draw(st.sampled_from([*sorted(body), "unexpected"]))
    value = data.draw(JSON_VALUES)

    response = memory_client.post(
        f"/v1/participants/{admitted}/{resource}", json={**body, field: value}
    )

    assert response.status_code == 201 or 400 <= response.status_code < 500, response.text
