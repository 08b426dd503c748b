"""If-Match: a write conditioned on the stream version the caller last saw."""

from __future__ import annotations

from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from tests.e2e.support import admission, post, session, stream_version


@pytest.mark.parametrize("header", ['"2"', "2", ' "2" '])
def test_current_version_lets_the_write_through(
    client: TestClient, participant: str, header: str
) -> None:
    """If-Match naming the current version (quotes optional) records the write."""
    response = post(client, participant, "sessions", session(), headers={"If-Match": header})

    assert response.status_code == 201
    assert response.json()["version"] == 3


def test_stale_version_is_412_with_the_current_version(
    client: TestClient, participant: str
) -> None:
    """Given a stream that moved on to version 3, when a write says If-Match "2", then 412
    with the current version in the body and the ETag, and nothing is appended."""
    post(client, participant, "sessions", session())

    response = post(client, participant, "sessions", session(), headers={"If-Match": '"2"'})

    assert response.status_code == 412
    assert response.json()["error"] == "version_conflict"
    assert response.json()["current_version"] == 3
    assert response.headers["ETag"] == '"3"'
    assert stream_version(client, participant) == 3


def test_etag_of_a_read_is_what_if_match_takes(client: TestClient, participant: str) -> None:
    """The ETag of GET /v1/participants/{id} can be sent back as If-Match unchanged."""
    etag = client.get(f"/v1/participants/{participant}").headers["ETag"]

    response = post(client, participant, "sessions", session(), headers={"If-Match": etag})

    assert response.status_code == 201


def test_admission_of_a_new_id_expects_version_zero(client: TestClient) -> None:
    """If-Match "0" admits a new participant; any other version is stale (412, current 0)."""
    fresh, other = str(uuid4()), str(uuid4())

    created = client.post(
        "/v1/participants", json=admission(participant_id=fresh), headers={"If-Match": '"0"'}
    )
    stale = client.post(
        "/v1/participants", json=admission(participant_id=other), headers={"If-Match": '"5"'}
    )

    assert created.status_code == 201
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 0
    assert client.get(f"/v1/participants/{other}").status_code == 404
