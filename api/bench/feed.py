"""Feed and relay throughput: events/s through GET /v1/events (pages of 1000) and through
`continuum relay nats`, over SQLite and PostgreSQL. Run by scripts/bench-feed.

    python -m api.bench.feed [--events 20000] [--postgres URL] [--nats URL]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from api.feed.events import Feed
from api.feed.relay import RelayConfig, run_relay
from api.http.app import create_app
from api.http.dependencies import clock
from api.security.tokens import Role, mint_token
from api.seed.commands import admission, consent, recorded_session
from api.settings import Settings
from domain.application import ContinuumApplication

SECRET = "bench-feed-secret-0123456789abcdef0123"
RECIPIENT = "bench-integrator"
NOW = datetime.now(UTC)
SESSIONS_PER_PARTICIPANT = 48


def seed(application: ContinuumApplication, events: int) -> int:
    participants = max(1, events // (SESSIONS_PER_PARTICIPANT + 2))
    admitted = NOW - timedelta(days=90)
    for n in range(participants):
        pid = application.execute(
            admission(admitted, program_id=f"program-{n % 3}", level="2.1"),
            recorded_by="bench",
            now=NOW,
        ).participant_id
        application.execute(
            consent(pid, RECIPIENT, NOW + timedelta(days=365)),
            recorded_by="bench",
            now=NOW,
        )
        for day in range(SESSIONS_PER_PARTICIPANT):
            application.execute(
                recorded_session(pid, admitted + timedelta(days=day, minutes=n), 180),
                recorded_by="bench",
                now=NOW,
            )
    return participants * (SESSIONS_PER_PARTICIPANT + 2)  # fmt: skip


def feed_rate(client: TestClient, role: Role, sub: str) -> tuple[int, float]:
    headers = {"Authorization": f"Bearer {mint_token(SECRET, role=role, sub=sub)}"}
    after, count, started = 0, 0, time.perf_counter()
    while True:
        page = client.get("/v1/events", params={"after": after, "limit": 1000}, headers=headers)
        body = page.json()
        count += len(body["events"])
        if body["next_after"] == after:
            return count, count / (time.perf_counter() - started)
        after = body["next_after"]


def relay_rate(feed: Feed, nats_url: str) -> tuple[int, float]:
    token = secrets.token_hex(4)
    config = RelayConfig(
        url=nats_url, recipient=RECIPIENT, stream=f"BENCH_{token}",
        subject_prefix=f"bench_{token}", batch=1000, once=True,
    )  # fmt: skip
    started = time.perf_counter()
    stats = asyncio.run(run_relay(feed, config))
    seconds = time.perf_counter() - started
    asyncio.run(_delete_stream(nats_url, config.stream))
    return stats.published, stats.published / seconds


async def _delete_stream(url: str, stream: str) -> None:
    import nats

    connection = await nats.connect(url)
    try:
        await connection.jetstream().delete_stream(stream)
    finally:
        await connection.close()


def bench(url: str, events: int, nats_url: str | None) -> None:
    app = create_app(Settings(database_url=url, demo=False, log_level="WARNING", jwt_secret=SECRET))
    app.dependency_overrides[clock] = lambda: NOW
    with TestClient(app) as client:
        application: ContinuumApplication = app.state.application
        started = time.perf_counter()
        written = seed(application, events)
        print(
            f"{url.split(':')[0]}: seeded {written} events in {time.perf_counter() - started:.1f}s"
        )
        for role, sub in ((Role.AUDITOR, "bench-auditor"), (Role.INTEGRATOR, RECIPIENT)):
            count, rate = feed_rate(client, role, sub)
            print(f"  GET /v1/events as {role.value}: {count} events, {rate:,.0f} events/s")
        if nats_url:
            count, rate = relay_rate(app.state.feed, nats_url)
            print(f"  relay nats: {count} events, {rate:,.0f} events/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--postgres", help="a postgresql:// URL of an EMPTY database")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222", help="'' to skip the relay")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", args.events, args.nats or None)
    if args.postgres:
        bench(args.postgres, args.events, args.nats or None)


if __name__ == "__main__":
    main()
