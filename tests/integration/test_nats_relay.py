"""`continuum relay nats`: killed mid-stream and restarted, JetStream holds each event once.

Needs a NATS server with JetStream (NATS_URL, default nats://127.0.0.1:4222). Without one the
test is skipped with the reason, unless CONTINUUM_REQUIRE_NATS=1 (CI), where it fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from api.bootstrap import open_url
from api.feed.events import PARTICIPANT_TOPIC_PREFIX
from api.seed.commands import admission, consent, recorded_session
from domain.application import ContinuumApplication

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
RECIPIENT = "care-coordination"
NOW = datetime.now(UTC)
ADMITTED = NOW - timedelta(days=60)
REPO = Path(__file__).resolve().parents[2]


def _require_nats() -> None:
    async def probe() -> None:
        import nats

        connection = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
        try:
            await connection.jetstream().account_info()
        finally:
            await connection.close()

    try:
        asyncio.run(probe())
    except Exception as error:
        reason = f"no NATS JetStream server at {NATS_URL}: {type(error).__name__} {error}"
        if os.environ.get("CONTINUUM_REQUIRE_NATS") == "1":
            pytest.fail(reason + " (CONTINUUM_REQUIRE_NATS=1)", pytrace=False)
        pytest.skip(reason + " (set CONTINUUM_REQUIRE_NATS=1 to fail instead)")


def _seed(application: ContinuumApplication, participants: int, sessions: int) -> list[UUID]:
    ids = []
    for n in range(participants):
        recorded = application.execute(
            admission(ADMITTED, program_id="riverside-iop", level="2.1"),
            recorded_by="seed",
            now=NOW,
        )
        ids.append(recorded.participant_id)
        for day in range(sessions):
            application.execute(
                recorded_session(
                    recorded.participant_id, ADMITTED + timedelta(days=day, minutes=n), 180
                ),
                recorded_by="seed",
                now=NOW,
            )
    return ids


def _relay(url: str, stream: str, prefix: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CONTINUUM_DATABASE_URL": url, "CONTINUUM_LOG_FORMAT": "json"}
    command = [sys.executable, "-m", "api.cli", "relay", "nats", "--url", NATS_URL]
    command += ["--recipient", RECIPIENT, "--stream", stream, "--subject-prefix", prefix]
    command += ["--batch", "200", "--poll", "0.05", *extra]
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


async def _stream_count(stream: str) -> int:
    import nats
    from nats.js.errors import NotFoundError

    connection = await nats.connect(NATS_URL)
    try:
        try:
            info = await connection.jetstream().stream_info(stream)
        except NotFoundError:
            return 0
        return int(info.state.messages)
    finally:
        await connection.close()


async def _stream_messages(stream: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    import nats

    connection = await nats.connect(NATS_URL)
    try:
        js = connection.jetstream()
        info = await js.stream_info(stream)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(stream, seq)
            headers = {**(message.headers or {}), "Subject": message.subject}
            found.append((json.loads(message.data or b"{}"), headers))
        return found
    finally:
        await connection.close()


async def _delete_stream(stream: str) -> None:
    import nats

    connection = await nats.connect(NATS_URL)
    try:
        await connection.jetstream().delete_stream(stream)
    finally:
        await connection.close()


@pytest.mark.slow
def test_relay_killed_mid_stream_delivers_each_event_exactly_once(postgres_url: str) -> None:
    """Given 1,500 participant events, 29 of 30 participants consented to the recipient,
    when the relay is killed with SIGKILL mid-stream, more events are written, and the relay is
    restarted, then the JetStream stream holds every consented event exactly once, in log order,
    none of the unconsented participant's, and the disclosure log names each event once."""
    _require_nats()
    service = open_url(postgres_url)
    application = service.application
    token = secrets.token_hex(4)
    stream, prefix = f"CONTINUUM_TEST_{token}", f"continuum_test_{token}"
    try:
        ids = _seed(application, participants=30, sessions=48)
        hidden = ids[-1]
        for participant in ids[:-1]:
            application.execute(
                consent(participant, RECIPIENT, NOW + timedelta(days=365)),
                recorded_by="test",
                now=NOW,
            )

        relay = _relay(postgres_url, stream, prefix)
        deadline = time.monotonic() + 30
        while asyncio.run(_stream_count(stream)) < 300:
            assert relay.poll() is None, "the relay stopped on its own"
            assert time.monotonic() < deadline, "the relay published too little"
            time.sleep(0.02)
        relay.send_signal(signal.SIGKILL)
        relay.wait(timeout=10)
        published_before_kill = asyncio.run(_stream_count(stream))

        more = _seed(application, participants=1, sessions=10)
        application.execute(
            consent(more[0], RECIPIENT, NOW + timedelta(days=365)),
            recorded_by="test",
            now=NOW,
        )
        restarted = _relay(postgres_url, stream, prefix, "--once")
        output, _ = restarted.communicate(timeout=120)
        assert restarted.returncode == 0, output

        messages = asyncio.run(_stream_messages(stream))
        expected = [
            n
            for n in application.recorder.select_notifications(start=None, limit=1_000_000)
            if n.topic.startswith(PARTICIPANT_TOPIC_PREFIX) and n.originator_id != hidden
        ]
        positions = [int(headers["Continuum-Position"]) for _, headers in messages]
        assert 0 < published_before_kill < len(expected), "the kill was not mid-stream"
        assert positions == [n.id for n in expected]
        event_ids = [event["id"] for event, _ in messages]
        assert len(set(event_ids)) == len(event_ids)
        assert all(headers["Nats-Msg-Id"] == event["id"] for event, headers in messages)
        assert str(hidden) not in {event["subject"] for event, _ in messages}
        assert {h["Subject"] for _, h in messages} == {
            f"{prefix}.riverside-iop.registered",
            f"{prefix}.riverside-iop.admitted",
            f"{prefix}.riverside-iop.session_attended",
        }

        log = service.disclosure_log
        rows = log.select(recipient=RECIPIENT, limit=100_000)
        logged = [str(e) for row in rows for e in row.event_ids]
        assert sorted(logged) == sorted(event_ids)
        assert {row.channel for row in rows} == {"nats"}
        print(f"before kill {published_before_kill}; restart: {output.strip()}")
    finally:
        application.close()
        asyncio.run(_delete_stream(stream))
