"""`continuum rotate-key`: every row re-encrypted under a new key, resumable after kill -9.

Given an encrypted store (demo and generated cohorts, caught-up views, access and disclosure
log rows, a checkpoint, a receipt), the rotation is killed with SIGKILL part-way; until it is
finished every command refuses the store in one line; run again, it finishes; then
`continuum verify --all` is intact under the new key, the log's order and count are unchanged,
every side table reads back, and the old key no longer opens the store. SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from api.bootstrap import open_for_rotation, open_service
from api.cli.main import main
from api.seed.commands import admission, recorded_session
from api.settings import Settings, SettingsError
from api.storage.access_log import AccessEntry
from api.storage.cipher import create_cipher_key
from api.storage.disclosure_log import Disclosure
from api.storage.rotation import unfinished_rotation

REPO = Path(__file__).resolve().parents[2]
OLD, NEW = create_cipher_key(), create_cipher_key()
RECIPIENT, CHECKPOINT = "rotation-recipient", "nats:CONTINUUM:rotation-recipient"
AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def log_rows(url: str, key: str) -> list[tuple[object, ...]]:
    """(position, stream, version, topic) of every event, in log order."""
    with open_service(Settings(database_url=url, cipher_key=key)) as service:
        db, tables = service.db  # type: ignore[misc]
        with db.transaction():
            position = tables.event_position
            return db.rows(
                f"SELECT {position}, originator_id, originator_version, topic "
                f"FROM {tables.events} ORDER BY {position}"
            )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    url = str(request.getfixturevalue(f"{request.param}_url"))
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", url)
    monkeypatch.setenv("CONTINUUM_CIPHER_KEY", OLD)
    monkeypatch.setenv("CONTINUUM_LOG_LEVEL", "WARNING")
    assert main(["demo", "--today", "2026-03-02"]) == 0
    assert main(["generate", "--participants", "4", "--weeks", "3", "--today", "2026-03-02"]) == 0
    assert main(["project", "--once"]) == 0
    with open_service(Settings.from_env()) as service:
        pid = uuid4()
        service.access_log.append(AccessEntry(AT, "rotation-reader", "admin", pid, "timeline",
                                              "/v1/x", "TREAT", None))  # fmt: skip
        disclosure = Disclosure(RECIPIENT, pid, (uuid4(),), AT, "nats")
        service.disclosure_log.record([disclosure], checkpoint=(CHECKPOINT, 9))
        # 105 events in one stream: the library snapshots it at version 100.
        app = service.application
        long_stay = app.execute(admission(AT, program_id="riverside-iop", level="2.1"),
                                recorded_by="t", now=AT).participant_id  # fmt: skip
        for day in range(104):
            started = AT + timedelta(days=day)
            app.execute(recorded_session(long_stay, started, 60), recorded_by="t", now=started)
    return url


def snapshot_versions(url: str, key: str) -> list[int]:
    with open_service(Settings(database_url=url, cipher_key=key)) as service:
        db, tables = service.db  # type: ignore[misc]
        with db.transaction():
            rows = db.rows(f"SELECT originator_version FROM {tables.snapshots} ORDER BY 1")
            return [v for (v,) in rows]


def test_rotation_killed_midway_refuses_the_store_then_resumes_and_verifies(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given an encrypted store, when a rotation is killed part-way, then every command refuses
    the store naming `rotate-key`; run again it finishes, and under the new key the chains
    verify, the log is unchanged in order and count, and every side table reads back."""
    before = log_rows(store, OLD)
    snapshots = snapshot_versions(store, OLD)
    assert 100 in snapshots
    with open_service(Settings(database_url=store, cipher_key=OLD)) as service:
        views_before = service.views.store.digest()
    assert len(before) > 100

    # Killed with SIGKILL as soon as it reports its first batch of events.
    rotation = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "rotate-key", "--new-key", NEW, "--batch", "2"],
        cwd=REPO, env=os.environ.copy(), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert rotation.stderr is not None
    for line in rotation.stderr:
        if "rows rewritten" in line:
            break
    rotation.send_signal(signal.SIGKILL)
    rotation.wait(timeout=30)

    with open_for_rotation(Settings(database_url=store, cipher_key=OLD)) as service:
        assert unfinished_rotation(*service.db) is not None  # type: ignore[misc]  # killed mid-way
    # Half-rotated: every command refuses, in one line naming the fix.
    capsys.readouterr()
    assert main(["verify", "--all"]) == 2
    refusal = capsys.readouterr().err.strip()
    assert "rotate-key" in refusal and "\n" not in refusal
    for key in (OLD, NEW):
        with pytest.raises(SettingsError, match="did not finish"):
            open_service(Settings(database_url=store, cipher_key=key))

    assert main(["rotate-key", "--new-key", NEW]) == 0  # resumes
    assert "resumed and done" in capsys.readouterr().out

    monkeypatch.setenv("CONTINUUM_CIPHER_KEY", NEW)
    assert main(["verify", "--all"]) == 0
    assert log_rows(store, NEW) == before  # same events, same order, same count
    assert snapshot_versions(store, NEW) == snapshots
    with open_service(Settings(database_url=store, cipher_key=NEW)) as service:
        assert service.views.store.digest() == views_before
        # Every stream reads back from its stored rows (the snapshot's under the new key too).
        fresh = open_service(Settings(database_url=store, cipher_key=NEW), aggregate_cache=False)
        with fresh:
            for stream in {row[1] for row in before}:
                fresh.application.repository.get(UUID(str(stream)))
        assert [e.sub for e in service.access_log.entries()] == ["rotation-reader"]
        assert [d.recipient for d in service.disclosure_log.select(recipient=RECIPIENT)] == [
            RECIPIENT
        ]
        assert service.disclosure_log.checkpoint(CHECKPOINT) == 9
        db, tables = service.db  # type: ignore[misc]
        assert unfinished_rotation(db, tables) is None
    with pytest.raises(SettingsError):
        open_service(Settings(database_url=store, cipher_key=OLD))
