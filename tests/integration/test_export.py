"""The auditor's export (`continuum export --format jsonl`) and the README's re-verification
snippet, run exactly as documented against exports from SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from api.cli.main import main
from api.storage.cipher import create_cipher_key
from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication
from domain.chain import canonical_json
from tests.integration.test_tamper_evidence import (
    RawStore,
    open_app,
    participant_with_sessions,
    session,
    write_v1_stream,
)

README = Path(__file__).resolve().parents[2] / "README.md"
SNIPPET = re.compile(
    r"<!-- verify-export:begin -->\s*```python\n(.*?)```\s*<!-- verify-export:end -->", re.S
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh SQLite file or PostgreSQL database."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def readme_snippet() -> str:
    """The verification code exactly as README.md's "Verifying an export" section shows it."""
    match = SNIPPET.search(README.read_text())
    assert match is not None, "README.md lost its verify-export markers"
    return match.group(1)


def run_snippet(export: Path) -> subprocess.CompletedProcess[str]:
    """The README's snippet in a fresh interpreter (nothing of ours importable from it)."""
    return subprocess.run(
        [sys.executable, "-I", "-c", readme_snippet(), str(export)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=export.parent,
        check=False,
    )


def export(
    monkeypatch: pytest.MonkeyPatch, url: str, participant_id: UUID, path: Path, **env: str
) -> None:
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = ["--participant", str(participant_id), "--format", "jsonl", "--output", str(path)]
    code = main(["export", *args])
    assert code == 0


def edit_line(path: Path, number: int, old: str, new: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    assert old in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new)
    path.write_text("".join(lines))


def test_the_readme_snippet_verifies_an_export_and_finds_an_edited_line(
    store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Given a participant with four sessions, when their stream is exported, then the README's
    snippet says it is intact (exit 0); when one line's duration is edited from 180 to 30, it
    names that line (exit 1)."""
    app = open_app(store_url)
    participant_id = participant_with_sessions(app)
    path = tmp_path / "stream.jsonl"

    export(monkeypatch, store_url, participant_id, path)
    intact = run_snippet(path)
    edit_line(path, 4, '"duration_minutes":180', '"duration_minutes":30')
    edited = run_snippet(path)

    assert (intact.returncode, intact.stdout.strip()) == (0, "intact"), intact.stderr
    assert (edited.returncode, edited.stdout.strip()) == (1, "broken at line 4"), edited.stderr


def test_an_export_is_plain_json_in_the_chains_canonical_form(
    store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each line is one stored event in version order: topic, ids, version, timestamp and fields
    as plain JSON (ISO strings, no transcoding wrappers), previous_hash and event_hash; each line
    is already canonical (re-dumping it gives the same text), each event's previous_hash names
    the line before, and the last hash is the head hash verify reports."""
    app = open_app(store_url)
    participant_id = participant_with_sessions(app, sessions=2)
    path = tmp_path / "stream.jsonl"

    export(monkeypatch, store_url, participant_id, path)
    lines = path.read_text().splitlines()
    events = [json.loads(line) for line in lines]

    assert "_type_" not in path.read_text()
    assert [e["originator_version"] for e in events] == [1, 2, 3, 4]
    assert events[0]["topic"] == "continuum.Participant.Registered.v1"
    assert events[2]["topic"] == "continuum.Participant.SessionAttended.v1"
    assert events[2]["timestamp"] == "2026-02-04T09:00:00+00:00"
    assert events[2]["occurred_at"] == "2026-01-06T09:00:00+00:00"
    assert {e["originator_id"] for e in events} == {str(participant_id)}
    assert all(canonical_json(e) == line for e, line in zip(events, lines, strict=True))
    assert [e["previous_hash"] for e in events[1:]] == [e["event_hash"] for e in events[:-1]]
    assert events[-1]["event_hash"] == app.verify_participant(participant_id).head_hash


def test_an_export_of_a_stream_begun_before_the_chain_verifies(
    store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Given three events written in the old shape (no hashes) and two chained after them, the
    export carries null hashes for the old ones and the snippet verifies the whole; when the
    hash fields of a chained line are nulled to hide an edit, the snippet names that line."""
    app = open_app(store_url)
    participant_id = uuid4()
    write_v1_stream(RawStore(store_url), participant_id)
    session(app, participant_id, 2)
    session(app, participant_id, 3)
    path = tmp_path / "stream.jsonl"

    export(monkeypatch, store_url, participant_id, path)
    events = [json.loads(line) for line in path.read_text().splitlines()]
    intact = run_snippet(path)
    stripped = events[4] | {"previous_hash": None, "event_hash": None}
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:4], canonical_json(stripped)]) + "\n")
    hidden = run_snippet(path)

    assert [e["event_hash"] is None for e in events] == [True, True, True, False, False]
    assert (intact.returncode, intact.stdout.strip()) == (0, "intact"), intact.stderr
    assert (hidden.returncode, hidden.stdout.strip()) == (1, "broken at line 5")


def test_an_encrypted_store_exports_decrypted_lines_that_verify(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Given a store encrypted with CONTINUUM_CIPHER_KEY, the export (with the key) holds the
    plaintext fields the hashes were taken over, and the snippet verifies it."""
    key = create_cipher_key()
    app = ContinuumApplication(env=parse_store_url(sqlite_url, cipher_key=key).settings)
    participant_id = participant_with_sessions(app, sessions=1)
    assert b"duration_minutes" not in RawStore(sqlite_url).state(participant_id, 3)
    path = tmp_path / "stream.jsonl"

    export(monkeypatch, sqlite_url, participant_id, path, CONTINUUM_CIPHER_KEY=key)

    assert '"duration_minutes":180' in path.read_text()
    assert run_snippet(path).stdout.strip() == "intact"


def test_exporting_an_unknown_participant_is_refused(
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An id with no stream exits 2 naming it, and writes no file."""
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", sqlite_url)
    missing = uuid4()

    code = main(["export", "--participant", str(missing), "--output", str(tmp_path / "x")])

    assert code == 2
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
