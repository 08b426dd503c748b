"""Every `continuum` command on an encrypted store: each works with the key it was written
with, and each one that opens the store refuses, in one line and before touching a view, when
the key is missing or wrong. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.bench.http import server
from api.bootstrap import open_service
from api.cli.main import main
from api.settings import Settings
from api.storage.cipher import create_cipher_key

REPO = Path(__file__).resolve().parents[2]
KEY = create_cipher_key()


def nats_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 4222), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def encrypted_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store holding the demo cohort, a generated cohort and caught-up views, all written
    with KEY; the environment names it and the key, as an operator's shell would."""
    url = str(request.getfixturevalue(f"{request.param}_url"))
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", url)
    monkeypatch.setenv("CONTINUUM_CIPHER_KEY", KEY)
    monkeypatch.setenv("CONTINUUM_LOG_FORMAT", "json")
    monkeypatch.setenv("CONTINUUM_LOG_LEVEL", "WARNING")
    assert main(["demo", "--today", "2026-03-02"]) == 0
    assert main(["generate", "--participants", "3", "--weeks", "2", "--today", "2026-03-02"]) == 0
    assert main(["project", "--once"]) == 0
    return url


def views_state() -> tuple[int, str]:
    """The live views' position and digest, read with the right key."""
    with open_service(Settings.from_env()) as service:
        return service.views.store.position(), service.views.store.digest()


def first_participant() -> str:
    with open_service(Settings.from_env()) as service:
        rows = service.views.store.all_rows()
        return next(iter(rows)).participant_id


def run_ok(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, (argv, err)
    assert "Traceback" not in err
    return out, err


def test_every_command_works_on_an_encrypted_store_with_its_key(
    encrypted_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a store written with CONTINUUM_CIPHER_KEY, when each command runs with that key
    set, then each exits 0 and does its work: the views rebuild and verify identical, the
    chains verify intact, exports decode, the relay publishes, the server serves."""
    capsys.readouterr()
    participant = first_participant()

    run_ok(capsys, "rebuild")
    out, _ = run_ok(capsys, "rebuild", "--verify")
    assert "identical" in out
    run_ok(capsys, "project", "--once")
    out, _ = run_ok(capsys, "verify", "--all")
    assert "all intact" in out
    out, _ = run_ok(capsys, "verify", "--participant", participant)
    assert ": ok," in out
    run_ok(capsys, "export", "--participant", participant, "--output", str(tmp_path / "one"))
    lines = (tmp_path / "one").read_text().splitlines()
    assert lines and all(json.loads(line)["originator_id"] == participant for line in lines)
    run_ok(capsys, "export", "--all", "--output", str(tmp_path / "all"))
    assert len((tmp_path / "all").read_text().splitlines()) > len(lines)
    # The fixture loaded the demo with the key; loading it again is refused, in one line.
    assert main(["demo", "--force"]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 1
    run_ok(capsys, "generate", "--participants", "2", "--seed", "7", "--weeks", "1")
    out, _ = run_ok(capsys, "token", "--role", "auditor", "--sub", "a")
    assert out.count(".") == 2  # a JWT
    out, _ = run_ok(capsys, "cipher-key")
    assert out.strip()
    if nats_answers():
        out, _ = run_ok(capsys, "relay", "nats", "--recipient", "nobody", "--once")
        assert "published=0" in out  # no consent names this recipient
    with server(encrypted_store, workers=1) as base_url:
        assert httpx.get(f"{base_url}/healthz", timeout=10).status_code == 200
    follow_then_stop()


def follow_then_stop() -> None:
    """`continuum project` without --once follows until SIGTERM, then exits 0."""
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "project"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "following new events" in line:
                break
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# Every command that opens the store; {pid} is a participant of the store.
STORE_COMMANDS = [
    ["rebuild"],
    ["rebuild", "--verify"],
    ["project", "--once"],
    ["verify", "--all"],
    ["verify", "--participant", "{pid}"],
    ["export", "--participant", "{pid}", "--output", "{tmp}/one"],
    ["export", "--all", "--output", "{tmp}/all"],
    ["demo", "--force"],
    ["generate", "--participants", "2", "--seed", "8"],
    ["serve"],
    ["relay", "nats", "--recipient", "nobody", "--once"],
]


@pytest.fixture(params=["missing", "wrong"])
def bad_key(request: pytest.FixtureRequest) -> str:
    """The environment without the store's key, or with another one."""
    return str(request.param)


def log_head() -> int | None:
    with open_service(Settings.from_env()) as service:
        return service.application.recorder.max_notification_id()


def test_without_the_right_key_every_command_refuses_in_one_line_touching_nothing(
    encrypted_store: str,
    bad_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Given an encrypted store with caught-up views, when each command runs with the key
    missing (or a different one), then each exits 2 with exactly one line on stderr naming
    CONTINUUM_CIPHER_KEY (no traceback), the views keep their position and digest, no export
    file is left behind, and nothing was appended to the log."""
    participant = first_participant()
    before, head = views_state(), log_head()
    if bad_key == "missing":
        monkeypatch.delenv("CONTINUUM_CIPHER_KEY")
    else:
        monkeypatch.setenv("CONTINUUM_CIPHER_KEY", create_cipher_key())
    capsys.readouterr()

    for template in STORE_COMMANDS:
        argv = [a.format(pid=participant, tmp=tmp_path) for a in template]
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert len(err.splitlines()) == 1, (argv, err)
        assert "CONTINUUM_CIPHER_KEY" in err and "Traceback" not in err, (argv, err)

    assert not (tmp_path / "one").exists() and not (tmp_path / "all").exists()
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []
    monkeypatch.setenv("CONTINUUM_CIPHER_KEY", KEY)
    assert views_state() == before
    assert log_head() == head
