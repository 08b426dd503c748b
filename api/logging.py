"""Structured logging: JSON lines for machines, coloured console for people.

Call ``configure_logging()`` once at start-up. Bind per-request values with
``structlog.contextvars.bind_contextvars(request_id=...)``: every log line of that request then
carries them. Standard-library loggers (uvicorn's included) go through the same processors and
renderer; run uvicorn with ``log_config=None`` so it keeps these handlers instead of installing
its own.

The project's own lines (``get_logger``) are rendered by structlog and written straight to
stdout, not handed to the standard library's logging: that hand-off (a LogRecord, the handler's
lock, ProcessorFormatter running the chain again) cost ~31 us per line against ~6 us, and every
request writes an access line (structlog's documentation, "Performance", recommends the same:
a filtering bound logger, a plain writer, orjson).
"""

from __future__ import annotations

import json as stdlib_json
import logging
import os
import sys
from typing import Any

import orjson
import structlog

_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _json_wanted(json: bool | None) -> bool:
    if json is not None:
        return json
    log_format = os.environ.get("CONTINUUM_LOG_FORMAT", "").strip().lower()
    if log_format in ("json", "console"):
        return log_format == "json"
    return not sys.stdout.isatty()


def configure_logging(*, json: bool | None = None, level: str = "INFO") -> None:
    """Route structlog and stdlib logging to stdout at ``level``.

    ``json=None`` decides by ``CONTINUUM_LOG_FORMAT`` (``json`` or ``console``), else JSON
    exactly when stdout is not a terminal. Safe to call again (tests, reloads).
    """
    numeric_level = logging.getLevelNamesMapping().get(level.upper())
    if numeric_level is None:
        raise ValueError(f"unknown log level {level!r}")
    as_json = _json_wanted(json)

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,  # a record's name, or a _NamedWriter's
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any
    if as_json:
        renderer = structlog.processors.JSONRenderer(serializer=_json_line)
        # Tracebacks as data, without local variables: they may hold participants' records.
        shared.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stdout.isatty(), exception_formatter=structlog.dev.plain_traceback
        )

    structlog.configure(
        # Below the level, a line is dropped before any processor runs: at WARNING the
        # per-request access line cost ~3% of a cached read's CPU only to be thrown away.
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        # sys.stdout as it is when each line is written (a test's capture included).
        logger_factory=_NamedWriter,
        # Not cached: structlog.testing.capture_logs must see loggers made before it.
        cache_logger_on_first_use=False,
    )

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric_level)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
    # uvicorn's access line quotes the raw path and query string, which name participants and
    # recipients; the project's own request line (api.http.middleware) replaces it. Switched
    # off here as well as by `access_log=False`, so no way of starting uvicorn brings it back.
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A structlog logger named ``name`` (usually ``__name__``): its lines say ``logger``."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger


class _NamedWriter(structlog.WriteLogger):
    """Writes rendered lines to stdout, and knows the name its lines carry (add_logger_name
    reads it as it reads a standard-library logger's)."""

    def __init__(self, name: str = "") -> None:
        super().__init__()  # sys.stdout as it is now
        self.name = name


def _json_line(event: dict[str, Any], **options: Any) -> str:
    """One log line as JSON: orjson (~5x the standard library's speed here), or the standard
    library for what orjson refuses (an integer past 64 bits)."""
    default = options.get("default")
    try:
        return orjson.dumps(event, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return stdlib_json.dumps(event, default=default)
