"""Service settings, read once from the environment at start-up and handed down."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LogFormat = Literal["json", "console", "auto"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_BODY_BYTES = 64 * 1024
# Failed authentications a source address may make within the window before it is answered
# 429 (OWASP Authentication Cheat Sheet: throttle failed attempts per client).
DEFAULT_AUTH_FAILURE_LIMIT = 20
DEFAULT_AUTH_FAILURE_WINDOW_SECONDS = 60
# /readyz fails once the views' oldest unapplied event is older than this.
DEFAULT_READY_MAX_LAG_SECONDS = 30
# A request not answered within this is answered 503 (the event loop moves on).
DEFAULT_REQUEST_TIMEOUT_SECONDS = 30

# Published in the source on purpose: it signs the demo tokens `continuum serve` prints, so it is
# accepted only in demo mode (CONTINUUM_DEMO on) and refused everywhere else.
DEMO_JWT_SECRET = "continuum-demo-secret-NOT-FOR-REAL-RECORDS-0000000000"
MIN_JWT_SECRET_LENGTH = 32  # HS256 keys shorter than the hash (32 bytes) are guessable offline
# The demo cohort's programs run on US Central time.
DEMO_TIMEZONE = "America/Chicago"
AES_KEY_SIZES = (16, 24, 32)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    # None: the default SQLite file (see api.storage.store_url).
    database_url: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    demo: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # "auto": JSON lines unless stdout is a terminal.
    log_format: LogFormat = "auto"
    log_level: str = "INFO"
    # Token verification: an HS256 shared secret and/or an RS256 public key (PEM text).
    jwt_secret: str | None = field(default=None, repr=False)
    jwt_public_key: str | None = None
    # RS256 keys from an identity provider's JWKS, chosen by the token's `kid`.
    jwt_jwks_url: str | None = None
    # When set, tokens must carry exactly this `iss` / an `aud` naming this audience.
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    auth_failure_limit: int = DEFAULT_AUTH_FAILURE_LIMIT
    auth_failure_window_seconds: int = DEFAULT_AUTH_FAILURE_WINDOW_SECONDS
    # Base64 AES key: events and snapshots are stored encrypted when set (api.storage.cipher).
    cipher_key: str | None = field(default=None, repr=False)
    ready_max_lag_seconds: int = DEFAULT_READY_MAX_LAG_SECONDS
    request_timeout_seconds: int = DEFAULT_REQUEST_TIMEOUT_SECONDS
    # The IANA zone of programs whose policy sets none: their days and weeks are counted in it.
    timezone: str = "UTC"

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
        demo = _flag("CONTINUUM_DEMO", get("DEMO"), default=True)
        return cls(
            database_url=get("DATABASE_URL"),
            host=get("HOST") or DEFAULT_HOST,
            port=port,
            demo=demo,
            max_body_bytes=max_body,
            log_format=_log_format(get("LOG_FORMAT")),
            log_level=_log_level(get("LOG_LEVEL")),
            jwt_secret=_jwt_secret(get("JWT_SECRET"), demo=demo),
            jwt_public_key=_pem_file("CONTINUUM_JWT_PUBLIC_KEY", get("JWT_PUBLIC_KEY")),
            jwt_jwks_url=_url("CONTINUUM_JWT_JWKS_URL", get("JWT_JWKS_URL")),
            jwt_issuer=get("JWT_ISSUER"),
            jwt_audience=get("JWT_AUDIENCE"),
            auth_failure_limit=_integer(
                "CONTINUUM_AUTH_FAILURE_LIMIT",
                get("AUTH_FAILURE_LIMIT"),
                DEFAULT_AUTH_FAILURE_LIMIT,
                low=1,
            ),
            auth_failure_window_seconds=_integer(
                "CONTINUUM_AUTH_FAILURE_WINDOW_SECONDS",
                get("AUTH_FAILURE_WINDOW_SECONDS"),
                DEFAULT_AUTH_FAILURE_WINDOW_SECONDS,
                low=1,
                high=86400,
            ),
            cipher_key=_cipher_key(get("CIPHER_KEY")),
            ready_max_lag_seconds=_integer(
                "CONTINUUM_READY_MAX_LAG_SECONDS",
                get("READY_MAX_LAG_SECONDS"),
                DEFAULT_READY_MAX_LAG_SECONDS,
                low=1,
                high=86400,
            ),
            request_timeout_seconds=_integer(
                "CONTINUUM_REQUEST_TIMEOUT_SECONDS",
                get("REQUEST_TIMEOUT_SECONDS"),
                DEFAULT_REQUEST_TIMEOUT_SECONDS,
                low=1,
                high=3600,
            ),
            timezone=_timezone(get("TIMEZONE"), demo=demo),
        )

    def with_token_keys(self) -> Settings:
        """These settings with a key to verify tokens: the configured ones, or in demo mode
        (and only then) the published demo secret. Refuses to start without any."""
        if self.jwt_secret or self.jwt_public_key or self.jwt_jwks_url:
            return self
        if self.demo:
            return replace(self, jwt_secret=DEMO_JWT_SECRET)
        raise SettingsError(
            "no key to verify tokens: set CONTINUUM_JWT_SECRET (HS256, at least "
            f"{MIN_JWT_SECRET_LENGTH} characters), CONTINUUM_JWT_PUBLIC_KEY (a PEM file, RS256) "
            "or CONTINUUM_JWT_JWKS_URL (an identity provider's key set); CONTINUUM_DEMO=1 uses "
            "the published demo secret instead"
        )

    @property
    def uses_demo_secret(self) -> bool:
        """True when tokens are checked with the published demo secret (anyone can mint them)."""
        return self.jwt_secret == DEMO_JWT_SECRET

    @property
    def log_json(self) -> bool | None:
        """What api.logging.configure_logging takes: True, False, or None to decide by tty."""
        return None if self.log_format == "auto" else self.log_format == "json"


_DEMO_SECRET_REFUSED = (
    "CONTINUUM_JWT_SECRET is the published demo secret: anyone could mint tokens; set a secret "
    "of your own (or CONTINUUM_DEMO=1 for a demo)"
)


def _jwt_secret(raw: str | None, *, demo: bool) -> str | None:
    if raw is None:
        return None
    if raw == DEMO_JWT_SECRET and not demo:
        raise SettingsError(_DEMO_SECRET_REFUSED)
    if len(raw) < MIN_JWT_SECRET_LENGTH:
        raise SettingsError(
            f"CONTINUUM_JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters"
        )
    return raw


def _pem_file(name: str, raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return Path(raw).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"{name} must name a readable PEM file: {error}") from None


def _url(name: str, raw: str | None) -> str | None:
    if raw is None:
        return None
    if not raw.startswith(("https://", "http://")):
        raise SettingsError(f"{name} must be an http(s) URL; got {raw!r}")
    return raw


def _timezone(raw: str | None, *, demo: bool) -> str:
    """A program's weeks and due dates are local: a real service must say where it runs."""
    if raw is None:
        if demo:
            return DEMO_TIMEZONE
        raise SettingsError(
            "CONTINUUM_TIMEZONE is required when CONTINUUM_DEMO=0: the IANA time zone of "
            "programs that set none, e.g. America/Chicago"
        )
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"CONTINUUM_TIMEZONE must be an IANA time zone such as America/Chicago; got {raw!r}"
        ) from None
    return raw


def _cipher_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        size = len(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        size = -1
    if size not in AES_KEY_SIZES:
        raise SettingsError(
            "CONTINUUM_CIPHER_KEY must be 16, 24 or 32 bytes in base64 "
            "(`continuum cipher-key` makes one)"
        )
    return raw


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


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(raw: str | None) -> str:
    if raw is None:
        return "INFO"
    if raw.upper() not in LOG_LEVELS:
        raise SettingsError(
            f"CONTINUUM_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}; got {raw!r}"
        )
    return raw.upper()


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
