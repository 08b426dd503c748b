"""Compliance reports kept as rendered bodies: served again only while nothing they are
computed from has changed (the views' position, the participant's stream, the policy)."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.storage.cipher import create_cipher_key
from projections import compliance as compliance_rules
from tests.e2e.support import PROGRAM, authorized_client, build_app
from tests.e2e.test_compliance_http import (
    FULL_WEEK,
    admit,
    after_last_write,
    compliance,
    groups,
    week,
    write,
)

KEY = create_cipher_key()


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each participant the compliance rules are evaluated for, in order."""
    calls: list[str] = []
    evaluate = compliance_rules.evaluate

    def counting(state: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(state.participant_id)
        return evaluate(state, *args, **kwargs)

    monkeypatch.setattr(compliance_rules, "evaluate", counting)
    return calls


def test_a_repeated_read_is_served_without_judging_again(
    client: TestClient, judged: list[str]
) -> None:
    """Given a report read once, when it is read again with nothing changed, then the same
    body is answered and the rules are not evaluated again."""
    pid = admit(client)
    groups(client, pid, [7, 8, 9])
    # Both reads wait for the last write: without it the views may still be catching up
    # between them, and a report at a later position is rightly a different body.
    caught_up = after_last_write(client)
    first = client.get(f"/v1/participants/{pid}/compliance", params=caught_up)
    judged.clear()

    again = client.get(f"/v1/participants/{pid}/compliance", params=caught_up)

    assert again.status_code == 200
    assert again.content == first.content
    assert judged == []


def test_a_write_a_policy_change_or_another_day_is_judged_afresh(
    client: TestClient, judged: list[str]
) -> None:
    """Given a cached report (week of Feb 9: 9 h, met), then a correction, a policy change
    and another `as_of` each give a freshly judged report that shows the change."""
    pid = admit(client)
    first, *_ = groups(client, pid, [7, 8, 9])
    assert week(compliance(client, pid), FULL_WEEK)["status"] == "met"

    write(client, pid, "corrections", {"event_id": first, "reason": "Entered in error."})
    assert week(compliance(client, pid), FULL_WEEK)["status"] == "below_minimum"

    minimum = [{"level": "2.1", "age_group": "adult", "hours": 6}]
    response = client.put(f"/v1/programs/{PROGRAM}/policy", json={"minimum_hours": minimum})
    assert response.status_code == 200, response.text
    # In force from when it was recorded (the test clock's NOW), so later weeks are judged by it.
    report = compliance(client, pid, as_of="2026-03-20")
    assert week(report, "2026-03-16")["required_hours"] == 6.0
    assert compliance(client, pid, as_of="2026-02-20")["as_of"] == "2026-02-20"

    judged.clear()
    compliance(client, pid, as_of="2026-03-20")
    assert judged == []  # nothing changed since: the kept body


@pytest.mark.parametrize("sealed", [False, True], ids=["plain", "sealed"])
def test_a_policy_change_by_another_process_is_judged_afresh(
    postgres_url: str, sealed: bool
) -> None:
    """Given a report read (and its policy kept) by one server, when another server on the same
    PostgreSQL store records a policy change, then the first server's next read is judged by
    it, with plain view rows and with rows sealed under a cipher key (where the views'
    position and the policy's growth are read in one statement through the sealed store)."""
    key = {"cipher_key": KEY} if sealed else {}
    with ExitStack() as running:
        reader, other = (
            running.enter_context(authorized_client(build_app(postgres_url, **key)))
            for _ in range(2)
        )
        changed_elsewhere(reader, other)


def changed_elsewhere(reader: TestClient, other: TestClient) -> None:
    """Read a report with `reader`, change the policy with `other`, read again with `reader`."""
    pid = admit(reader)
    groups(reader, pid, [7, 8, 9])
    assert week(compliance(reader, pid, as_of="2026-03-20"), "2026-03-16")["required_hours"] == 9.0

    minimum = [{"level": "2.1", "age_group": "adult", "hours": 6}]
    response = other.put(f"/v1/programs/{PROGRAM}/policy", json={"minimum_hours": minimum})
    assert response.status_code == 200, response.text

    assert week(compliance(reader, pid, as_of="2026-03-20"), "2026-03-16")["required_hours"] == 6.0
