"""Logs around authentication and the access log: ids only, never tokens, names or free text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.security.tokens import Role, mint_token
from api.storage.access_log import AccessEntry, MemoryAccessLog
from tests.e2e.support import (
    PROGRAM,
    TEST_JWT_SECRET,
    bearer,
    logged,
    post,
    service_log_lines,
    session,
)

NAME = "Jane Doe"


class BrokenAccessLog(MemoryAccessLog):
    def _insert_many(self, entries: Sequence[AccessEntry]) -> list[int]:
        raise OSError(f"cannot write a row for {NAME}")


def send_requests(client: TestClient, participant: str) -> tuple[list[int], list[str]]:
    """Requests carrying tokens (valid, forged, expired-looking, with a name in the claims),
    a name in the Authorization header and in X-Purpose-Of-Use, and a read whose access-log
    write fails with a message quoting a name. Returns the statuses and the tokens sent."""
    valid = mint_token(TEST_JWT_SECRET, role=Role.CLINICIAN, sub="dr-17", programs=(PROGRAM,))
    forged = mint_token(
        "a-forger-secret-of-sufficient-length-000000", role="admin", sub=NAME, programs=[NAME]
    )
    named_claims = mint_token(TEST_JWT_SECRET, role="clinician", sub="dr-18", programs=[NAME])
    url = f"/v1/participants/{participant}"
    responses = [
        client.get(url, headers={"Authorization": f"Bearer {valid}"}),
        client.get(url, headers={"Authorization": f"Bearer {forged}"}),
        client.get(url, headers={"Authorization": f"Bearer {NAME}"}),
        client.get(url, headers={"Authorization": f"Bearer {named_claims}"}),
        client.get(url, headers={"X-Purpose-Of-Use": NAME}),
        post(client, participant, "sessions", session(track=NAME), headers=bearer()),
    ]
    app = cast(FastAPI, client.app)
    working = app.state.access_log
    app.state.access_log = BrokenAccessLog()
    try:
        responses.append(client.get(url))
    finally:
        app.state.access_log = working
    return [r.status_code for r in responses], [valid, forged, named_claims]


def test_no_token_name_or_free_text_reaches_the_logs(
    client: TestClient, participant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given requests carrying tokens and a name in every place a caller controls (and an
    access-log failure quoting a name), then no log entry, structured or rendered as JSON,
    holds a token, a token's signature or the name."""
    with structlog.testing.capture_logs() as entries:
        statuses, tokens = send_requests(client, participant)
    service_lines = service_log_lines(capsys, lambda: send_requests(client, participant))

    assert statuses == [200, 401, 401, 404, 422, 201, 503]
    secrets = [NAME, "Jane", *tokens, *(t.rsplit(".", 1)[1] for t in tokens)]
    assert not [e for e in entries for s in secrets if s in repr(e)]
    assert [line for line in service_lines if logged(line).get("event") == "request"]
    assert not [line for line in service_lines for s in secrets if s in line]
    refusals = [e.get("error") for e in entries if e["event"] == "request"]
    assert refusals == [
        None,
        "invalid_token",
        "invalid_token",
        "participant_not_found",
        "invalid_request",
        None,
        "access_log_unavailable",
    ]
