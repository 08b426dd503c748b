"""Which temporary databases a bench run created, so a test checks only its own.

Other bench runs (a developer's, a parallel session's) may create `continuum_bench_*`
databases on the same server at the same time; a test must not count those as leaks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
import pytest

import api.bench.command_path
import api.bench.common
import api.bench.rebuild

_ORIGINAL = api.bench.command_path.temporary_database


def record_bench_databases(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch every user of `temporary_database`; the list fills with the names it creates."""
    created: list[str] = []

    @contextmanager
    def recording(server_url: str) -> Iterator[tuple[str, str]]:
        with _ORIGINAL(server_url) as (url, version):
            created.append(urlsplit(url).path.lstrip("/"))
            yield url, version

    for module in (api.bench.command_path, api.bench.rebuild, api.bench.common):
        monkeypatch.setattr(module, "temporary_database", recording)
    return created


def existing(server_url: str, names: list[str]) -> list[str]:
    """Those of `names` that still exist on the server."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (names,)
        ).fetchall()
    return [row[0] for row in rows]
