"""Store fixtures shared by the rebuild tests: the same test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.bootstrap import Service, open_url
from api.storage.views import Views
from domain.application import ContinuumApplication


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def service(url: str) -> Iterator[Service]:
    with open_url(url) as opened:
        yield opened


@pytest.fixture
def app(service: Service) -> ContinuumApplication:
    return service.application


@pytest.fixture
def views(service: Service) -> Iterator[Views]:
    """The service's participant views, not following the log unless a test starts them."""
    opened = service.views
    yield opened
    opened.stop()
