"""The JSON log lines: the service's own and the libraries' in one format, none ever lost."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from api.logging import configure_logging, get_logger


def lines_written(
    capsys: pytest.CaptureFixture[str], level: str, log: Callable[[], None]
) -> list[dict[str, object]]:
    """The JSON lines `log` writes to stdout with logging configured as in production."""
    configure_logging(json=True, level=level)  # bound to the stdout capsys captures now
    try:
        log()
        out = capsys.readouterr().out
    finally:
        with capsys.disabled():
            configure_logging(json=False)
    return [json.loads(line) for line in out.splitlines()]


def test_own_and_library_lines_carry_the_same_fields(capsys: pytest.CaptureFixture[str]) -> None:
    """A line of ours (structlog, written directly) and a library's (the standard library's
    logging) both say event, level, logger and timestamp."""

    def log() -> None:
        get_logger("continuum.test").info("request", status=200)
        logging.getLogger("uvicorn.error").warning("server %s", "started")

    ours, library = lines_written(capsys, "INFO", log)

    assert (ours["event"], ours["level"], ours["logger"], ours["status"]) == (
        "request", "info", "continuum.test", 200,
    )  # fmt: skip
    assert (library["event"], library["level"], library["logger"]) == (
        "server started", "warning", "uvicorn.error",
    )  # fmt: skip
    assert str(ours["timestamp"]).endswith("Z") and str(library["timestamp"]).endswith("Z")


def test_a_value_orjson_refuses_is_still_written(capsys: pytest.CaptureFixture[str]) -> None:
    """orjson encodes integers of at most 64 bits: a larger one falls back to the standard
    library's encoder instead of losing the line."""
    [line] = lines_written(
        capsys, "INFO", lambda: get_logger("continuum.test").warning("count", value=2**70)
    )

    assert line["value"] == 2**70


def test_lines_below_the_level_are_not_written(capsys: pytest.CaptureFixture[str]) -> None:
    """At WARNING neither our info lines nor a library's are written; a warning is."""

    def log() -> None:
        get_logger("continuum.test").info("request")
        logging.getLogger("uvicorn.error").info("server started")
        get_logger("continuum.test").warning("store_unavailable")

    lines = lines_written(capsys, "WARNING", log)

    assert [line["event"] for line in lines] == ["store_unavailable"]
