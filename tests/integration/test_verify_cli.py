"""`continuum verify`: exit codes and the first broken link, on SQLite and PostgreSQL stores."""

from __future__ import annotations

from uuid import uuid4

import pytest

from api.cli.main import main
from domain.participant import event_id_for
from tests.integration.test_tamper_evidence import RawStore, open_app, participant_with_sessions


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite file or PostgreSQL database, named by CONTINUUM_DATABASE_URL."""
    url = str(request.getfixturevalue(f"{request.param}_url"))
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", url)
    return url


def test_verify_all_exits_0_on_intact_streams_with_progress_on_stderr(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given two participants recorded through the app, `verify --all` exits 0, says all
    streams are intact on stdout, and reports progress and speed on stderr."""
    app = open_app(store_url)
    participant_with_sessions(app)
    participant_with_sessions(app, sessions=1)

    code = main(["verify", "--all"])

    out, err = capsys.readouterr()
    assert code == 0
    assert "2 streams, 9 events: all intact" in out
    assert "log position" in err and "events/s" in err


def test_verify_all_exits_1_naming_the_first_broken_link(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given two participants, one with a session row edited with plain SQL, `verify --all`
    exits 1 and names that stream, version and event id; the intact one is not listed."""
    app = open_app(store_url)
    intact = participant_with_sessions(app)
    tampered = participant_with_sessions(app)
    RawStore(store_url).replace_in_state(
        tampered, 5, '"duration_minutes":180', '"duration_minutes":30'
    )

    code = main(["verify", "--all"])

    out = capsys.readouterr().out
    assert code == 1
    assert f"{tampered}: BROKEN at version 5 (event {event_id_for(tampered, 5)}): content" in out
    assert str(intact) not in out
    assert "1 of 2 streams BROKEN" in out


def test_verify_one_participant(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`verify --participant ID` exits 0 when intact, 1 once a row is deleted (a version gap
    named on stdout), and 2 for an id with no stream."""
    app = open_app(store_url)
    participant_id = participant_with_sessions(app)

    intact = main(["verify", "--participant", str(participant_id)])
    RawStore(store_url).delete(participant_id, 3)
    broken = main(["verify", "--participant", str(participant_id)])
    out = capsys.readouterr().out
    unknown = main(["verify", "--participant", str(uuid4())])

    assert (intact, broken, unknown) == (0, 1, 2)
    assert "BROKEN at version 4" in out and "version 3 is missing" in out


def test_verify_needs_all_or_a_participant() -> None:
    """Without --all or --participant, verify is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as usage:
        main(["verify"])

    assert usage.value.code == 2
