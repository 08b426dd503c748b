"""Query parameters are bounded: dates outside a plausible window are 422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.http.bounds import MAX_POSITION
from tests.e2e.support import admission

FAR_FUTURE = ["9999-12-31", "9999-12-24", "3000-01-01"]


@pytest.mark.parametrize("as_of", [*FAR_FUTURE, "1899-12-31", "0001-01-01"])
def test_compliance_and_caseload_refuse_implausible_dates(
    client: TestClient, participant: str, as_of: str
) -> None:
    for path in (f"/v1/participants/{participant}/compliance", "/v1/participants"):
        response = client.get(path, params={"as_of": as_of})
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["field"] == "as_of" and body["error"] == "invalid_request"
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("name", ["as_of", "known_at"])
@pytest.mark.parametrize("value", ["9999-12-31T00:00:00Z", "9999-12-31T23:00:00-05:00",
                                   "1800-01-01T00:00:00Z"])  # fmt: skip
def test_history_refuses_implausible_times(
    client: TestClient, participant: str, name: str, value: str
) -> None:
    response = client.get(f"/v1/participants/{participant}/history", params={name: value})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == name


def test_the_window_reaches_a_year_ahead(client: TestClient, participant: str) -> None:
    """A date inside the window is served: the bound refuses the implausible only."""
    soon = (datetime.now(UTC) + timedelta(days=300)).date().isoformat()
    assert client.get(f"/v1/participants/{participant}/compliance?as_of={soon}").status_code == 200
    assert client.get("/v1/participants", params={"as_of": "1900-01-01"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "name"),
    [("/v1/participants", "min_position"), ("/v1/events", "after"),
     ("/v1/audit/disclosures", "after")],
)  # fmt: skip
def test_positions_are_capped(client: TestClient, path: str, name: str) -> None:
    response = client.get(path, params={name: MAX_POSITION + 1})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == name


def test_a_caseload_larger_than_the_cap_is_refused(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.routes.views as view_routes

    for _ in range(3):
        admitted = client.post("/v1/participants", json=admission())
        assert admitted.status_code == 201
    monkeypatch.setattr(view_routes, "MAX_CASELOAD_ROWS", 2)
    # A caseload may lag: wait for the views to hold all three.
    refused = client.get("/v1/participants", params={"min_position": admitted.json()["position"]})
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "program_id"
    monkeypatch.setattr(view_routes, "MAX_CASELOAD_ROWS", 3)
    assert client.get("/v1/participants").status_code == 200
