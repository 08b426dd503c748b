"""The rebuild tests' stores: the same test on SQLite and on PostgreSQL (a rebuild needs a store
that outlives the process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.bootstrap import Service
from api.storage.views import Views


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def store_url(url: str) -> str:
    return url


@pytest.fixture
def views(service: Service) -> Iterator[Views]:
    """The service's participant views, not following the log unless a test starts them."""
    opened = service.views
    yield opened
    opened.stop()
