"""Read-your-writes over HTTP, as a clinician's client sees it: `serve --workers 2`, writers in
parallel, each write followed at once by a read of compliance without `min_position`.

Every read must include the write just acknowledged (its session's minutes), and a read right
after an admission must find the participant (never 404), whichever worker answers.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from api.bench.http import PROGRAM, SECRET, server
from api.security.tokens import Role, mint_token

WRITERS = 8
ADMITTED = date(2026, 1, 5)
AS_OF = ADMITTED + timedelta(days=10)


@pytest.fixture
def served(database_url: str) -> Iterator[str]:
    if database_url.startswith("memory"):
        pytest.skip("an in-memory store cannot be shared by worker processes")
    with server(database_url, workers=2) as base_url:
        yield base_url


def probe(base_url: str, pairs: int) -> Counter[str]:
    """`pairs` write-then-read pairs spread over WRITERS threads; counts each outcome."""
    token = mint_token(SECRET, role=Role.CLINICIAN, sub="dr-1", programs=[PROGRAM])
    headers = {"Authorization": f"Bearer {token}"}
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def writer(count: int) -> None:
        # Each writer keeps its connection (the kernel spreads the writers' connections over
        # both workers): a read then follows its write's 201 at once, as a client's would.
        client = httpx.Client(base_url=base_url, headers=headers, timeout=60)

        def call(method: str, path: str, **kw: object) -> httpx.Response:
            return client.request(method, path, **kw)  # type: ignore[arg-type]

        pid, minutes = None, 0
        for n in range(count):
            if n % 5 == 0:  # a fresh participant now and then: the admission case
                admitted = call("POST", "/v1/participants", json={
                    "program_id": PROGRAM, "age_group": "adult", "level": "2.1",
                    "pathway": "primary", "admitted_at": f"{ADMITTED}T09:00:00Z",
                })  # fmt: skip
                assert admitted.status_code == 201, admitted.text
                pid, minutes = admitted.json()["participant_id"], 0
            else:
                day = ADMITTED + timedelta(days=n % 5)
                written = call("POST", f"/v1/participants/{pid}/sessions", json={
                    "service": "group", "started_at": f"{day}T10:00:00Z",
                    "duration_minutes": 60, "attended": True,
                })  # fmt: skip
                assert written.status_code == 201, written.text
                minutes += 60
            read = call("GET", f"/v1/participants/{pid}/compliance?as_of={AS_OF}")
            if read.status_code == 404:
                outcome = "not_found"
            elif read.status_code != 200:
                outcome = f"status_{read.status_code}"
            else:
                seen = round(60 * sum(w["structured_hours"] for w in read.json()["weeks"]))
                outcome = "seen" if seen == minutes else "missed"
            with lock:
                outcomes[outcome] += 1
        client.close()

    share = [pairs // WRITERS + (1 if i < pairs % WRITERS else 0) for i in range(WRITERS)]
    threads = [threading.Thread(target=writer, args=(n,)) for n in share]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_every_acknowledged_write_is_read_back(served: str) -> None:
    outcomes = probe(served, 200)
    assert outcomes == Counter(seen=200), outcomes


@pytest.mark.slow
def test_a_thousand_pairs_under_eight_writers(served: str) -> None:
    outcomes = probe(served, 1000)
    assert outcomes == Counter(seen=1000), outcomes
