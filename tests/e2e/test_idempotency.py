"""Idempotency-Key: a retried write returns its first answer and appends nothing, across
restarts; the same key with another request is refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.security.tokens import Role
from tests.e2e.support import (
    PROGRAM,
    OpenClient,
    admission,
    authorized_client,
    bearer,
    build_app,
    post,
    session,
    stream_version,
)


def test_same_key_and_body_returns_the_first_response(client: TestClient, participant: str) -> None:
    """Given a session written with a key, when the same request is sent again with that key,
    then the answer is the first one (201, same body and ETag) and the stream did not move."""
    headers = {"Idempotency-Key": "session-1"}
    first = post(client, participant, "sessions", session(), headers=headers)
    version = stream_version(client, participant)

    again = post(client, participant, "sessions", session(), headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert stream_version(client, participant) == version


def test_key_order_and_spelling_of_the_body_do_not_matter(
    client: TestClient, participant: str
) -> None:
    """The fingerprint is taken of the validated body: reordered keys are the same request."""
    headers = {"Idempotency-Key": "session-2"}
    first = post(client, participant, "sessions", session(), headers=headers)

    reordered = dict(reversed(list(session().items())))
    again = post(client, participant, "sessions", reordered, headers=headers)

    assert again.status_code == 201
    assert again.json() == first.json()


def test_same_key_with_another_body_is_refused(client: TestClient, participant: str) -> None:
    """Given a key used for one session, when sent with a different session, then 422
    idempotency_key_reused and nothing is appended."""
    headers = {"Idempotency-Key": "session-3"}
    post(client, participant, "sessions", session(duration_minutes=60), headers=headers)
    version = stream_version(client, participant)

    response = post(client, participant, "sessions", session(duration_minutes=90), headers=headers)

    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"
    assert response.json()["field"] == "Idempotency-Key"
    assert stream_version(client, participant) == version


def test_same_key_on_another_resource_is_refused(client: TestClient, participant: str) -> None:
    """A key is one request: reusing it on another participant's path is refused too."""
    other = client.post("/v1/participants", json=admission()).json()["participant_id"]
    headers = {"Idempotency-Key": "session-4"}
    post(client, participant, "sessions", session(), headers=headers)

    response = post(client, other, "sessions", session(), headers=headers)

    assert response.status_code == 422
    assert stream_version(client, other) == 2


def test_retried_admission_opens_one_participant(client: TestClient) -> None:
    """An admission without participant_id retried with its key returns the same new id."""
    headers = {"Idempotency-Key": "admit-1"}
    first = client.post("/v1/participants", json=admission(), headers=headers)

    again = client.post("/v1/participants", json=admission(), headers=headers)

    assert again.status_code == 201
    assert again.json() == first.json()
    assert stream_version(client, first.json()["participant_id"]) == 2


def test_keys_are_scoped_to_the_caller(client: TestClient, participant: str) -> None:
    """Two callers choosing the same key write two entries: keys never cross principals."""
    headers = {"Idempotency-Key": "shared-key"}
    mine = post(client, participant, "sessions", session(), headers=headers)
    someone_else = bearer(Role.CLINICIAN, sub="someone-else", programs=(PROGRAM,))

    theirs = post(client, participant, "sessions", session(), headers={**headers, **someone_else})

    assert theirs.status_code == 201
    assert theirs.json()["event_id"] != mine.json()["event_id"]
    assert stream_version(client, participant) == 4


@pytest.mark.parametrize("key", ["", "with space", "caf\xe9".encode("latin-1"), "k" * 256])
def test_malformed_key_is_refused(client: TestClient, participant: str, key: str | bytes) -> None:
    """A key that is empty, too long or not visible ASCII is refused with 422 naming it."""
    response = post(client, participant, "sessions", session(), headers={"Idempotency-Key": key})

    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"
    assert stream_version(client, participant) == 2


@pytest.mark.parametrize(
    "store_fixture", ["sqlite_url", pytest.param("postgres_url", marks=pytest.mark.postgres)]
)
def test_key_survives_a_restart(
    store_fixture: str, request: pytest.FixtureRequest, open_client: OpenClient
) -> None:
    """Given a write made with a key, when the app is shut down and a new one started on the
    same store, then the retried request returns the first answer and appends nothing."""
    url = str(request.getfixturevalue(store_fixture))
    headers = {"Idempotency-Key": "across-restarts"}
    with authorized_client(build_app(url)) as before_restart:
        participant = before_restart.post("/v1/participants", json=admission()).json()
        pid = participant["participant_id"]
        first = post(before_restart, pid, "sessions", session(), headers=headers)

    after_restart = open_client(url)
    again = post(after_restart, pid, "sessions", session(), headers=headers)

    assert again.status_code == 201
    assert again.json() == first.json()
    assert stream_version(after_restart, pid) == 3
