"""GET /v1/events/stream: Server-Sent Events over a real server, resumable by Last-Event-ID."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.security.identity import SESSION_COOKIE
from api.security.tokens import Role
from tests.e2e.feed_support import auditor, grant, integrator, server, wall_clock_server
from tests.e2e.support import admission, bearer, session, token

READ_TIMEOUT = 10.0
CONSUMER = Path(__file__).resolve().parents[2] / "scripts" / "consume-feed"
__all__ = ["server", "wall_clock_server"]  # the fixtures, imported


@dataclass
class Frame:
    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comment: str | None = None

    @property
    def cloud_event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads("\n".join(self.data))
        return parsed


def frames(response: httpx.Response) -> Iterator[Frame]:
    frame = Frame()
    for line in response.iter_lines():
        if line == "":
            if frame.id or frame.data or frame.comment:
                yield frame
            frame = Frame()
        elif line.startswith(":"):
            frame.comment = line[1:].strip()
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                frame.id = value
            elif name == "event":
                frame.event = value
            elif name == "data":
                frame.data.append(value)


@contextmanager
def stream(base: str, headers: dict[str, str], **params: Any) -> Iterator[Iterator[Frame]]:
    """The stream's frames as they arrive (a read waiting READ_TIMEOUT for one fails)."""
    with (
        httpx.Client(base_url=base, timeout=READ_TIMEOUT) as http,
        http.stream("GET", "/v1/events/stream", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "Part2-Redisclosure-Notice" in response.headers
        yield frames(response)


def until(arriving: Iterator[Frame], done: Callable[[Frame], bool]) -> list[Frame]:
    """Frames read up to and including the first that is `done`."""
    seen: list[Frame] = []
    for frame in arriving:
        seen.append(frame)
        if done(frame):
            return seen
    raise AssertionError("the stream ended")


def collect(
    base: str, headers: dict[str, str], count: int, **params: Any
) -> tuple[list[Frame], list[Frame]]:
    """Read the stream until `count` events arrived; return (events, every frame)."""
    with stream(base, headers, **params) as arriving:
        events: list[Frame] = []

        def enough(frame: Frame) -> bool:
            if frame.data:
                events.append(frame)
            return len(events) >= count

        seen = until(arriving, enough)
    return events, seen


def write(base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{base}{path}", json=body, headers=bearer(), timeout=READ_TIMEOUT)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_stream_resumes_from_last_event_id(server: str) -> None:
    """Given a client that read the first events and dropped, while more were written,
    when it reconnects with Last-Event-ID, it receives exactly the new ones, in order."""
    participant = write(server, "/v1/participants", admission())["participant_id"]
    first, _ = collect(server, auditor(), 2)
    assert [f.event for f in first] == [
        "org.continuum.participant.registered.v1",
        "org.continuum.participant.admitted.v1",
    ]
    assert [f.id for f in first] == [str(f.cloud_event["position"]) for f in first]
    write(server, f"/v1/participants/{participant}/sessions", session())
    last_id = first[-1].id
    assert last_id is not None
    resumed, _ = collect(server, {**auditor(), "Last-Event-ID": last_id}, 1)
    assert [f.event for f in resumed] == ["org.continuum.participant.session_attended.v1"]
    assert int(resumed[0].id or 0) > int(last_id)


def test_stream_delivers_live_events_and_heartbeats(server: str) -> None:
    """A connected client gets heartbeat comments while the log is quiet, then an event
    written after it connected. No sleeps: each step waits for the frame it expects."""
    participant = write(server, "/v1/participants", admission())["participant_id"]
    with stream(server, auditor(), after=0) as arriving:
        until(arriving, lambda f: f.event == "org.continuum.participant.admitted.v1")
        until(arriving, lambda f: f.comment == "heartbeat")
        written = write(server, f"/v1/participants/{participant}/sessions", session())
        live = until(arriving, lambda f: bool(f.data))
    assert live[-1].event == "org.continuum.participant.session_attended.v1"
    assert live[-1].id == str(written["position"])


def test_stream_applies_consent(server: str) -> None:
    """An integrator's stream carries only consented participants; positions it withholds
    are passed with an id-only frame, so its Last-Event-ID moves past them."""
    shown = write(server, "/v1/participants", admission())["participant_id"]
    with httpx.Client(base_url=server) as http:
        response = grant(http, shown)  # type: ignore[arg-type]  # same API as TestClient
    assert response.status_code == 201
    hidden = write(server, "/v1/participants", admission())  # after every shown event
    with stream(server, integrator()) as arriving:
        seen = until(arriving, lambda f: f.id is not None and not f.data)
    events = [f for f in seen if f.data]
    assert [f.cloud_event["subject"] for f in events] == [shown, shown]
    assert hidden["participant_id"] not in json.dumps([f.data for f in seen])
    # The id-only frame comes after the shown events and names the last withheld position.
    assert seen[-1].id == str(hidden["position"])
    assert int(seen[-1].id) > int(events[-1].id or 0)


def test_reference_consumer_resumes_from_its_checkpoint_file(server: str, tmp_path: Path) -> None:
    """Given scripts/consume-feed run once to the end of the feed, when more events are written
    and it runs again, it prints only the new events: one line each, none twice, none missed."""
    checkpoint = tmp_path / "feed.position"
    token = auditor()["Authorization"].removeprefix("Bearer ")

    def consume() -> list[str]:
        command = [str(CONSUMER), "--url", server, "--token", token]
        command += ["--checkpoint", str(checkpoint), "--limit", "2", "--once"]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout.splitlines()

    participant = write(server, "/v1/participants", admission())["participant_id"]
    first = consume()
    assert [line.split("\t")[2].split(".")[3] for line in first] == ["registered", "admitted"]
    write(server, f"/v1/participants/{participant}/sessions", session())
    second = consume()
    assert [line.split("\t")[3] for line in second] == [participant]
    assert int(checkpoint.read_text()) == int(second[0].split("\t")[0])


def test_a_browser_session_cookie_opens_the_stream_only(server: str) -> None:
    """EventSource sends no Authorization header: the stream accepts the pages' session
    cookie (an auditor's), the feed page and records do not, and no cookie is 401."""
    cookie = {SESSION_COOKIE: token(Role.AUDITOR, sub="browser-auditor")}
    with httpx.Client(base_url=server, cookies=cookie, timeout=10) as client:
        with client.stream("GET", "/v1/events/stream") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
        assert client.get("/v1/events").status_code == 401
    with httpx.Client(base_url=server, timeout=10) as anonymous:
        assert anonymous.get("/v1/events/stream").status_code == 401


def test_a_staff_stream_logs_each_participant_before_sending(server: str) -> None:
    """Given an auditor's stream, the participants of each batch it is sent are in the access
    log (record "stream", the stream's route) by the time the events arrive."""
    participant = write(server, "/v1/participants", admission())["participant_id"]
    events, _ = collect(server, bearer(Role.AUDITOR, sub="stream-auditor"), 2)
    assert {f.cloud_event["subject"] for f in events} == {participant}
    response = httpx.get(
        f"{server}/v1/audit/access-log",
        params={"participant_id": participant},
        headers=auditor(),
        timeout=READ_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    logged = [e for e in response.json()["entries"] if e["record"] == "stream"]
    assert {(e["sub"], e["endpoint"]) for e in logged} == {("stream-auditor", "/v1/events/stream")}


def test_a_staff_stream_reads_the_real_clock(wall_clock_server: str) -> None:
    """Without the tests' fixed clock, a staff stream's batches are still logged and sent (the
    stream reads its clock outside the async dependency, which would give it a coroutine)."""
    participant = write(wall_clock_server, "/v1/participants", admission())["participant_id"]
    events, _ = collect(wall_clock_server, auditor(), 2)
    assert {f.cloud_event["subject"] for f in events} == {participant}
