"""The CLI explains itself: each common mistake ends in one line on stderr that names the
problem and its fix, and a non-zero exit, never a traceback. Each runs as an operator would,
in a fresh process."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from api.bench.http import SECRET, server

REPO = Path(__file__).resolve().parents[2]


def continuum(*argv: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *argv],
        cwd=REPO,
        env={**os.environ, "CONTINUUM_LOG_FORMAT": "json", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_failure(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The single stderr line of a failed command, checked to name each of `words`."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_generate_with_a_seed_already_used(sqlite_url: str) -> None:
    """A second `generate` with the same seed into the same store is refused (exit 1) before
    anything is written, and the line says to choose another --seed."""
    first = continuum(
        "generate", "--participants", "2", "--weeks", "1", "--database-url", sqlite_url
    )
    assert first.returncode == 0, first.stderr

    again = continuum(
        "generate", "--participants", "2", "--weeks", "1", "--database-url", sqlite_url
    )

    assert again.returncode == 1
    one_line_failure(again, "--seed 1", "another --seed")


def test_postgres_unreachable() -> None:
    """A PostgreSQL URL nobody answers at: exit 3, the line names the server (no password)."""
    result = continuum(
        "verify",
        "--all",
        CONTINUUM_DATABASE_URL="postgresql://someone:s3cret@127.0.0.1:1/nothing",
    )
    assert result.returncode == 3
    line = one_line_failure(result, "cannot reach PostgreSQL", "127.0.0.1:1/nothing")
    assert "s3cret" not in line


def test_nats_unreachable(sqlite_url: str) -> None:
    """A relay pointed at a port with no NATS server: exit 3 and one line with the fix."""
    result = continuum(
        "relay", "nats", "--recipient", "r", "--url", "nats://127.0.0.1:1", "--once",
        CONTINUUM_DATABASE_URL=sqlite_url, timeout=120,
    )  # fmt: skip
    assert result.returncode == 3
    one_line_failure(result, "cannot reach NATS", "--url")


def test_unknown_log_level() -> None:
    """CONTINUUM_LOG_LEVEL=verbose is a settings error (exit 2) listing the valid levels."""
    result = continuum("project", "--once", CONTINUUM_LOG_LEVEL="verbose")
    assert result.returncode == 2
    one_line_failure(result, "CONTINUUM_LOG_LEVEL", "DEBUG, INFO")


def test_token_with_a_bad_lifetime() -> None:
    """`token --ttl 8x` says what a lifetime looks like and names no internal function."""
    result = continuum("token", "--role", "auditor", "--sub", "a", "--ttl", "8x")
    assert result.returncode == 2
    line = one_line_failure(result, "--ttl", "30m, 8h or 2d")
    assert "parse_ttl" not in line and "token_lifetime" not in line


def test_relay_without_a_recipient_and_its_help() -> None:
    """`relay nats` without --recipient is a one-line usage error; its --help shows
    --recipient as required (outside brackets) and each option's default."""
    missing = continuum("relay", "nats", "--once")
    assert missing.returncode == 2
    one_line_failure(missing, "--recipient")

    shown = continuum("relay", "nats", "--help")
    usage = shown.stdout.split("options:")[0]
    assert "--recipient RECIPIENT" in usage and "[--recipient" not in usage
    for default in ("(default: nats://127.0.0.1:4222)", "(default: CONTINUUM)", "(default: 500)"):
        assert default in shown.stdout


def test_version() -> None:
    """`continuum --version` prints the package version on stdout."""
    result = continuum("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("continuum ") and result.stdout.split()[1][0].isdigit()


def test_consume_feed_with_a_bad_token() -> None:
    """scripts/consume-feed with a token the server refuses: exit 1, one line saying how to
    mint a new one, and the token itself is not echoed."""
    with server("memory://", workers=1) as base_url:
        result = subprocess.run(
            [str(REPO / "scripts" / "consume-feed"), "--url", base_url, "--token", "bad-token",
             "--once", "--checkpoint", os.devnull],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    line = one_line_failure(result, "HTTP 401", "continuum token")
    assert "bad-token" not in line
    assert SECRET not in line


# ---- export: a new file only, mode 0600 ------------------------------------------------------


@pytest.fixture
def store_with_a_participant(sqlite_url: str) -> str:
    result = continuum(
        "generate", "--participants", "1", "--weeks", "1", "--database-url", sqlite_url
    )
    assert result.returncode == 0, result.stderr
    return sqlite_url


def export_all(url: str, output: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return continuum("export", "--all", "--output", str(output), *extra, CONTINUUM_DATABASE_URL=url)


def test_export_writes_a_new_file_readable_by_its_owner_only(
    store_with_a_participant: str, tmp_path: Path
) -> None:
    """`export --all --output F` creates F with mode 0600 (whatever the umask), one JSON
    object a line."""
    output = tmp_path / "out" / "export.jsonl"
    output.parent.mkdir()
    result = export_all(store_with_a_participant, output)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert output.read_text().count("\n") > 1


def test_export_refuses_an_existing_file_unless_forced(
    store_with_a_participant: str, tmp_path: Path
) -> None:
    """An existing --output is left as it was (exit 2, one line naming --force); with
    --force it is replaced, and left mode 0600."""
    output = tmp_path / "export.jsonl"
    output.write_text("keep me\n")
    output.chmod(0o644)

    refused = export_all(store_with_a_participant, output)
    one_line_failure(refused, "already exists", "--force")
    assert output.read_text() == "keep me\n"

    forced = export_all(store_with_a_participant, output, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "keep me" not in output.read_text()
    assert stat.S_IMODE(output.stat().st_mode) == 0o600


def test_export_never_writes_through_a_symlink(
    store_with_a_participant: str, tmp_path: Path
) -> None:
    """--output naming a symbolic link is refused, and with --force the link itself is
    replaced: the file it pointed to is never written."""
    target = tmp_path / "elsewhere.txt"
    target.write_text("not yours\n")
    link = tmp_path / "export.jsonl"
    link.symlink_to(target)

    refused = export_all(store_with_a_participant, link)
    one_line_failure(refused, "already exists")
    forced = export_all(store_with_a_participant, link, "--force")

    assert forced.returncode == 0, forced.stderr
    assert target.read_text() == "not yours\n"
    assert not link.is_symlink() and link.read_text().startswith("{")


def test_export_into_a_missing_directory(store_with_a_participant: str, tmp_path: Path) -> None:
    """A --output in a directory that does not exist: one line naming the directory."""
    result = export_all(store_with_a_participant, tmp_path / "nowhere" / "export.jsonl")
    assert result.returncode == 2
    one_line_failure(result, "does not exist", str(tmp_path / "nowhere"))
