"""The role table, row by row: what each role may and may not do (api/authz.py).

Given two participants, one in the clinician's program (riverside-iop) and one in another
(harbor-php), each role's requests answer as the table says. A clinician's view of another
program's participant is indistinguishable from a missing participant (404).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from api.security.tokens import Role
from tests.e2e.support import PROGRAM, admission, authorized_client, build_app, post, session

OTHER_PROGRAM = "harbor-php"


@dataclass(frozen=True)
class World:
    """A running app with one participant in each program, and a client per role."""

    own: str  # a participant of PROGRAM
    other: str  # a participant of OTHER_PROGRAM
    position: int  # log position both are visible to the views at
    clients: dict[Role, TestClient]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    app = build_app("memory://")
    with authorized_client(app) as admin:
        own = admin.post("/v1/participants", json=admission()).json()
        other = admin.post("/v1/participants", json=admission(program_id=OTHER_PROGRAM)).json()
        clients = {
            Role.ADMIN: admin,
            Role.CLINICIAN: authorized_client(app, Role.CLINICIAN, programs=(PROGRAM,)),
            Role.AUDITOR: authorized_client(app, Role.AUDITOR),
            Role.INTEGRATOR: authorized_client(app, Role.INTEGRATOR),
        }
        yield World(own["participant_id"], other["participant_id"], other["position"], clients)


Request = Callable[[TestClient, World], httpx.Response]


def _get(path: str) -> Request:
    return lambda client, w: client.get(path.format(own=w.own, other=w.other, pos=w.position))


def _write(which: str) -> Request:
    return lambda client, w: post(client, getattr(w, which), "sessions", session())


def _admit(program: str) -> Request:
    return lambda client, w: client.post("/v1/participants", json=admission(program_id=program))


def _change_policy(client: TestClient, w: World) -> httpx.Response:
    response: httpx.Response = client.put(
        f"/v1/programs/{PROGRAM}/policy", json={"reassessment_days": 30}
    )
    return response


REQUESTS: dict[str, Request] = {
    "read state": _get("/v1/participants/{own}"),
    "read timeline": _get("/v1/participants/{own}/timeline"),
    "read history": _get("/v1/participants/{own}/history"),
    "read compliance": _get("/v1/participants/{own}/compliance?min_position={pos}"),
    "read another program's state": _get("/v1/participants/{other}"),
    "read another program's timeline": _get("/v1/participants/{other}/timeline"),
    "read another program's compliance": _get(
        "/v1/participants/{other}/compliance?min_position={pos}"
    ),
    "write": _write("own"),
    "write to another program's participant": _write("other"),
    "admit into own program": _admit(PROGRAM),
    "admit into another program": _admit(OTHER_PROGRAM),
    "list caseload": _get("/v1/participants?min_position={pos}"),
    "list another program's caseload": _get(
        f"/v1/participants?program_id={OTHER_PROGRAM}&min_position={{pos}}"
    ),
    "read the event feed": _get("/v1/events"),
    "read the access log": _get("/v1/audit/access-log"),
    "read a program's policy": _get(f"/v1/programs/{PROGRAM}/policy"),
    "change a program's policy": _change_policy,
}

# The expected status of each request for each role: the role table as tests.
TABLE: dict[Role, dict[str, int]] = {
    Role.CLINICIAN: {
        "read state": 200,
        "read timeline": 200,
        "read history": 200,
        "read compliance": 200,
        "read another program's state": 404,
        "read another program's timeline": 404,
        "read another program's compliance": 404,
        "write": 201,
        "write to another program's participant": 404,
        "admit into own program": 201,
        "admit into another program": 403,
        "list caseload": 200,
        "list another program's caseload": 403,
        "read the event feed": 403,
        "read the access log": 403,
        "read a program's policy": 200,
        "change a program's policy": 403,
    },
    Role.AUDITOR: {
        "read state": 200,
        "read timeline": 200,
        "read history": 200,
        "read compliance": 200,
        "read another program's state": 200,
        "read another program's timeline": 200,
        "read another program's compliance": 200,
        "write": 403,
        "write to another program's participant": 403,
        "admit into own program": 403,
        "admit into another program": 403,
        "list caseload": 200,
        "list another program's caseload": 200,
        "read the event feed": 200,
        "read the access log": 200,
        "read a program's policy": 200,
        "change a program's policy": 403,
    },
    Role.INTEGRATOR: {
        **{name: 403 for name in REQUESTS},
        "read the event feed": 200,
    },
    Role.ADMIN: {
        **{name: 200 for name in REQUESTS},
        "write": 201,
        "write to another program's participant": 201,
        "admit into own program": 201,
        "admit into another program": 201,
    },
}

ROWS = [(role, name, status) for role, row in TABLE.items() for name, status in row.items()]


def test_the_table_covers_every_request_for_every_role() -> None:
    """Each role has an expected answer for every request (no row silently skipped)."""
    for row in TABLE.values():
        assert set(row) == set(REQUESTS)


@pytest.mark.parametrize(
    ("role", "name", "status"), ROWS, ids=[f"{r.value}: {n} -> {s}" for r, n, s in ROWS]
)
def test_role_table(world: World, role: Role, name: str, status: int) -> None:
    """Given a caller of `role`, when it makes the request, then it gets the table's status
    (403 bodies name the refusal `forbidden`)."""
    response = REQUESTS[name](world.clients[role], world)

    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["error"] == "forbidden"


def _error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return {"status": response.status_code, "error": body["error"]}


@pytest.mark.parametrize("suffix", ["", "/timeline", "/compliance", "/history"])
def test_another_programs_participant_looks_missing(world: World, suffix: str) -> None:
    """A clinician asking for another program's participant gets the same answer as for an
    id nobody has: 404 participant_not_found, with the same detail wording."""
    clinician = world.clients[Role.CLINICIAN]
    missing = str(uuid4())

    theirs = clinician.get(f"/v1/participants/{world.other}{suffix}")
    nobodys = clinician.get(f"/v1/participants/{missing}{suffix}")

    assert _error(theirs) == _error(nobodys)
    assert _error(theirs)["status"] == 404
    assert theirs.json()["detail"].replace(world.other, missing) == nobodys.json()["detail"]


def test_clinician_caseload_lists_only_own_programs(world: World) -> None:
    """A clinician's caseload without a program filter lists only its own programs'
    participants; an admin's lists both programs."""
    query = f"/v1/participants?min_position={world.position}"

    mine = world.clients[Role.CLINICIAN].get(query).json()["participants"]
    every = world.clients[Role.ADMIN].get(query).json()["participants"]

    assert {row["program_id"] for row in mine} == {PROGRAM}
    assert {row["program_id"] for row in every} >= {PROGRAM, OTHER_PROGRAM}


def test_clinician_cannot_readmit_another_programs_participant(world: World) -> None:
    """Readmission names an existing participant: one of another program is not found (404)
    for a clinician, and nothing is appended."""
    clinician = world.clients[Role.CLINICIAN]
    before = world.clients[Role.ADMIN].get(f"/v1/participants/{world.other}").json()["version"]

    response = clinician.post(
        "/v1/participants", json=admission(participant_id=world.other, program_id=PROGRAM)
    )

    assert response.status_code == 404
    after = world.clients[Role.ADMIN].get(f"/v1/participants/{world.other}").json()["version"]
    assert after == before


def test_clinician_without_programs_sees_nobody(world: World) -> None:
    """A clinician token with an empty `programs` list sees no participant and no caseload."""
    app = world.clients[Role.ADMIN].app
    with authorized_client(app, Role.CLINICIAN, programs=()) as nobody:  # type: ignore[arg-type]
        assert nobody.get(f"/v1/participants/{world.own}").status_code == 404
        caseload = nobody.get(f"/v1/participants?min_position={world.position}")
        assert caseload.json()["participants"] == []


def test_writes_are_recorded_by_the_tokens_sub(world: World) -> None:
    """`recorded_by` of an appended event is the writer's `sub` claim."""
    clinician = world.clients[Role.CLINICIAN]
    receipt = post(clinician, world.own, "sessions", session()).json()

    events = clinician.get(f"/v1/participants/{world.own}/timeline").json()["events"]

    [entry] = [e for e in events if e["event_id"] == receipt["event_id"]]
    assert entry["recorded_by"] == "test-clinician"
