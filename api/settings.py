"""Service settings, read once from the environment at start-up and handed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

LogFormat = Literal["json", "console", "auto"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_BODY_BYTES = 64 * 1024

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    # None: the default SQLite file (see api.store.parse_store_url).
    database_url: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    demo: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # "auto": JSON lines unless stdout is a terminal.
    log_format: LogFormat = "auto"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from CONTINUUM_* variables; unset ones keep their defaults."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(f"CONTINUUM_{name}", "").strip()
            return value or None

        port = _integer("CONTINUUM_PORT", get("PORT"), DEFAULT_PORT, low=1, high=65535)
        max_body = _integer(
            "CONTINUUM_MAX_BODY_BYTES", get("MAX_BODY_BYTES"), DEFAULT_MAX_BODY_BYTES, low=1
        )
        return cls(
            database_url=get("DATABASE_URL"),
            host=get("HOST") or DEFAULT_HOST,
            port=port,
            demo=_flag("CONTINUUM_DEMO", get("DEMO"), default=True),
            max_body_bytes=max_body,
            log_format=_log_format(get("LOG_FORMAT")),
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
        )

    @property
    def log_json(self) -> bool | None:
        """What api.logging.configure_logging takes: True, False, or None to decide by tty."""
        return None if self.log_format == "auto" else self.log_format == "json"


def _integer(name: str, raw: str | None, default: int, *, low: int, high: int | None = None) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number; got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"from {low} to {high}"
        raise SettingsError(f"{name} must be {bounds}; got {value}")
    return value


def _flag(name: str, raw: str | None, *, default: bool) -> bool:
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(f"{name} must be 1 or 0 (true/false, yes/no, on/off); got {raw!r}")


def _log_format(raw: str | None) -> LogFormat:
    if raw is None:
        return "auto"
    lowered = raw.lower()
    if lowered == "json":
        return "json"
    if lowered == "console":
        return "console"
    if lowered == "auto":
        return "auto"
    raise SettingsError(f"CONTINUUM_LOG_FORMAT must be json, console or auto; got {raw!r}")
