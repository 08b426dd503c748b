"""The routes DirectRoute serves itself answer exactly as FastAPI's own handler answers them.

Two apps over the same kind of store, with the same history: one as served, one with every
DirectRoute handed back to FastAPI's handler. The same requests (valid ones, and each way of
being refused: no token, a role without the action, another program's caller, a malformed id,
purpose, date, position, body, content type, If-Match or Idempotency-Key, several at once)
must get the same status, headers and body from both, and leave the same access log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.testclient import TestClient

from api.http.direct import DirectRoute
from api.http.openapi import api_routes
from api.security.tokens import Role
from tests.e2e.support import (
    PROGRAM,
    admission,
    bearer,
    build_app,
    days_after_admission,
    post,
    session,
)

PARTICIPANT = "3f1d2c4b-5a69-4788-9a0b-1c2d3e4f5a6b"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
ADMITTED = "7c0e1f2a-3b4c-4d5e-8f60-718293a4b5c6"
STATE = f"/v1/participants/{PARTICIPANT}"
TIMELINE = f"/v1/participants/{PARTICIPANT}/timeline"
COMPLIANCE = f"/v1/participants/{PARTICIPANT}/compliance"

SESSIONS = f"/v1/participants/{PARTICIPANT}/sessions"
JSON = {"Content-Type": "application/json"}
SESSION = json.dumps(session()).encode()
SECOND_SESSION = json.dumps(session(started_at=days_after_admission(2))).encode()


@dataclass(frozen=True)
class Sent:
    """A request: headers None means an admin's token; {} or a dict without Authorization
    means no token at all."""

    path: str
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] | None = None
    body: bytes | None = None  # a POST when given

    def method(self) -> str:
        return "GET" if self.body is None else "POST"


def _read(path: str, query: dict[str, Any] | None = None, /, **headers: str) -> Sent:
    return Sent(path, query or {}, _headers(headers))


def _write(body: bytes, path: str = SESSIONS, **headers: str) -> Sent:
    return Sent(path, {}, _headers({**JSON, **headers}), body)


def _headers(given: dict[str, str]) -> dict[str, str] | None:
    """Keyword spellings to header names; an admin's token unless `Authorization` is given
    ("" sends none)."""
    spelled = {name.replace("_", "-"): value for name, value in given.items()}
    authorization = spelled.pop("Authorization", None)
    if authorization is None:
        return {**bearer(), **spelled}
    return spelled if authorization == "" else {"Authorization": authorization, **spelled}


CLINICIAN_HERE = bearer(Role.CLINICIAN, programs=(PROGRAM,))["Authorization"]
CLINICIAN_ELSEWHERE = bearer(Role.CLINICIAN, programs=("elsewhere",))["Authorization"]
INTEGRATOR = bearer(Role.INTEGRATOR)["Authorization"]
NOSY = {"X_Purpose_Of_Use": "NOSY"}

REQUESTS: list[Sent] = [
    _read(STATE),
    _read(STATE, Authorization=""),
    _read(STATE, Authorization=CLINICIAN_ELSEWHERE),
    _read(STATE, **NOSY),
    _read("/v1/participants/not-a-uuid"),
    _read(f"/v1/participants/{UNKNOWN}"),
    _read(TIMELINE),
    _read(TIMELINE, Authorization=""),
    _read(TIMELINE, Authorization="Bearer not-a-token"),
    _read(TIMELINE, Authorization=INTEGRATOR),
    _read(TIMELINE, Authorization=CLINICIAN_ELSEWHERE),
    _read(TIMELINE, Authorization=CLINICIAN_HERE),
    _read(TIMELINE, X_Purpose_Of_Use="HPAYMT"),
    _read(TIMELINE, **NOSY),
    _read("/v1/participants/not-a-uuid/timeline"),
    _read("/v1/participants/not-a-uuid/timeline", Authorization=""),
    _read("/v1/participants/not-a-uuid/timeline", **NOSY),
    _read(f"/v1/participants/{UNKNOWN}/timeline"),
    _read(COMPLIANCE),
    _read(COMPLIANCE, Authorization=""),
    _read(COMPLIANCE, Authorization=INTEGRATOR),
    _read(COMPLIANCE, {"as_of": "2026-03-01"}),
    _read(COMPLIANCE, {"as_of": "2026-02-30"}),
    _read(COMPLIANCE, {"as_of": "1066-10-14"}),
    _read(COMPLIANCE, {"as_of": ""}),
    _read(COMPLIANCE, {"as_of": ["2026-03-01", "soon"]}),
    _read(COMPLIANCE, {"min_position": "0"}),
    _read(COMPLIANCE, {"min_position": "-1"}),
    _read(COMPLIANCE, {"min_position": "9" * 30}),
    _read(COMPLIANCE, {"as_of": "soon", "min_position": "first"}),
    _read(COMPLIANCE, {"as_of": "soon"}, Authorization=""),
    _read(COMPLIANCE, {"as_of": "soon"}, **NOSY),
    _read("/v1/participants/not-a-uuid/compliance", {"as_of": "soon"}),
    _read(f"/v1/participants/{UNKNOWN}/compliance", {"as_of": "soon"}),
    _read(COMPLIANCE, {"unknown_parameter": "1"}),
    # Writes: the body is read before the caller is authenticated, as FastAPI reads it.
    _write(SESSION, If_Match='"3"'),
    _write(SESSION, Authorization=""),
    _write(b'{"started_at": ', Authorization=""),
    _write(b'{"started_at": '),
    _write(b""),
    _write(b"null"),
    _write(b"[]"),
    _write(SESSION, Content_Type="text/plain"),
    _write(SESSION, Content_Type=""),
    _write(SESSION, Content_Type="application/merge-patch+json; charset=utf-8"),
    _write(json.dumps(session(attended="sometimes")).encode()),
    _write(json.dumps({**session(), "unexpected": 1}).encode()),
    _write(b'{"started_at": ', path="/v1/participants/not-a-uuid/sessions"),
    _write(b"{}", path="/v1/participants/not-a-uuid/sessions"),
    _write(SESSION, path=f"/v1/participants/{UNKNOWN}/sessions"),
    _write(SESSION, Authorization=INTEGRATOR),
    _write(SESSION, Authorization=CLINICIAN_ELSEWHERE),
    _write(SESSION, If_Match='"1"'),
    _write(SESSION, If_Match="seven"),
    _write(SECOND_SESSION, Idempotency_Key="retry-1"),
    _write(SECOND_SESSION, Idempotency_Key="retry-1"),
    _write(SESSION, Idempotency_Key="retry-1"),
    _write(SESSION, Idempotency_Key="\t"),
    _write(b"x" * 2_000_000),
    _write(json.dumps(admission(participant_id=ADMITTED)).encode(), path="/v1/participants"),
    _write(json.dumps(admission(level="9")).encode(), path="/v1/participants"),
    _read(TIMELINE),
    _read(STATE),
]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


def _database_url(kind: str, tmp_path: Path, name: str) -> str:
    return "memory://" if kind == "memory" else f"sqlite:///{tmp_path / name}.db"


def _answers(app: FastAPI) -> list[tuple[int, dict[str, str], Any]]:
    with TestClient(app, headers=bearer()) as client:
        admitted = client.post("/v1/participants", json=admission(participant_id=PARTICIPANT))
        assert admitted.status_code == 201, admitted.text
        assert post(client, PARTICIPANT, "sessions", session()).status_code == 201
        client.headers.pop("Authorization")  # each request sends its own
        answers = []
        for n, sent in enumerate(REQUESTS):
            headers = {"X-Request-ID": f"{n:032x}", **(sent.headers or {})}
            response = client.request(
                sent.method(), sent.path, params=sent.query, headers=headers, content=sent.body
            )
            answer_headers = {k: v for k, v in response.headers.items() if k != "date"}
            answers.append((response.status_code, answer_headers, response.json()))
        log = client.get("/v1/audit/access-log", params={"limit": 500}, headers=bearer())
        assert log.status_code == 200, log.text
        entries = [
            {k: v for k, v in entry.items() if k not in ("id", "at", "hash", "prev_hash")}
            for entry in log.json()["entries"]
        ]
        answers.append((0, {}, entries))
    return answers


def test_direct_routes_answer_as_fastapi_does(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request answered the same (status, headers, body) and logged the same."""
    served = _answers(build_app(_database_url(store, tmp_path, "served")))
    with monkeypatch.context() as patched:
        patched.setattr(DirectRoute, "direct_handler", lambda self, route, framework: None)
        reference = _answers(build_app(_database_url(store, tmp_path, "reference")))
    statuses = {status for status, _, _ in served}
    assert {200, 201, 401, 403, 404, 412, 413, 422} <= statuses  # each answer is reached
    for request, mine, theirs in zip([*REQUESTS, "access log"], served, reference, strict=True):
        assert mine == theirs, request


def test_the_hot_routes_are_served_directly() -> None:
    """The participant's state, timeline and compliance reads and the seven writes have shapes
    DirectRoute serves itself; the program's routes are left to FastAPI's handler."""
    app = build_app("memory://")
    direct = set()
    for route in api_routes(app.routes):
        if isinstance(route, DirectRoute):
            handler = route.direct_handler(route, _never)
            if handler is not None:
                direct.add((*sorted(route.methods or ()), route.path))
    writes = ("level-changes", "sessions", "screenings", "reassessments", "discharge")
    assert direct == {
        ("GET", "/v1/participants/{participant_id}"),
        ("GET", "/v1/participants/{participant_id}/timeline"),
        ("GET", "/v1/participants/{participant_id}/compliance"),
        ("POST", "/v1/participants"),
        ("POST", "/v1/participants/{participant_id}/corrections"),
        *(("POST", f"/v1/participants/{{participant_id}}/{write}") for write in writes),
    }


async def _never(request: Any) -> Any:
    raise AssertionError("FastAPI's handler is not called while deciding")


def test_a_router_included_with_a_guard_is_served_by_fastapi() -> None:
    """A dependency added where the router is included is not the endpoint's own: the route
    is then not a shape DirectRoute serves, and the guard runs as FastAPI runs it."""
    router = APIRouter(route_class=DirectRoute)

    @router.get("/thing")
    async def thing(request: Request) -> Response:
        return Response(b"served")

    async def guard() -> None:
        raise HTTPException(403)

    guarded, open_ = FastAPI(), FastAPI()
    guarded.include_router(router, dependencies=[Depends(guard)])
    open_.include_router(router)
    assert TestClient(guarded).get("/thing").status_code == 403
    assert TestClient(open_).get("/thing").content == b"served"
    [route] = api_routes(open_.routes)
    assert isinstance(route, DirectRoute) and route.direct_handler(route, _never) is not None


def test_a_dependency_with_a_concurrency_limit_is_served_by_fastapi() -> None:
    """FastAPI runs a dependency declared with `max_concurrency` under its semaphore; a direct
    handler would not, so such a route keeps FastAPI's handler."""
    router = APIRouter(route_class=DirectRoute)

    @router.get("/limited")
    async def limited(value: Annotated[str, Depends(_reader, max_concurrency=1)]) -> Response:
        return Response(value.encode())

    @router.get("/unlimited")
    async def unlimited(value: Annotated[str, Depends(_reader)]) -> Response:
        return Response(value.encode())

    app = FastAPI()
    app.include_router(router)
    served = {
        route.path: route.direct_handler(route, _never)
        for route in api_routes(app.routes)
        if isinstance(route, DirectRoute)
    }
    assert served["/limited"] is None and served["/unlimited"] is not None
    assert TestClient(app).get("/limited").content == b"read"


async def _reader(request: Request) -> str:
    return "read"
