"""CONTINUUM_TIMEZONE: the zone of programs whose policy names none."""

from __future__ import annotations

import pytest

from api.settings import DEMO_TIMEZONE, Settings, SettingsError

PRODUCTION = {"CONTINUUM_DEMO": "0", "CONTINUUM_JWT_SECRET": "x" * 40}


def test_a_real_service_refuses_to_start_without_a_zone() -> None:
    """Given CONTINUUM_DEMO=0 and no CONTINUUM_TIMEZONE, then the settings are refused with
    one line naming the variable and an example zone."""
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(PRODUCTION)
    message = str(refused.value)
    assert "CONTINUUM_TIMEZONE" in message and "America/Chicago" in message
    assert "\n" not in message


def test_an_unknown_zone_is_refused() -> None:
    """A name that is not an IANA zone is refused, naming the variable and the value."""
    with pytest.raises(SettingsError, match=r"CONTINUUM_TIMEZONE.*Mars/Olympus"):
        Settings.from_env({**PRODUCTION, "CONTINUUM_TIMEZONE": "Mars/Olympus"})


def test_the_zone_is_read_and_the_demo_defaults_to_chicago() -> None:
    """A named zone is used as given; the demo without one runs on America/Chicago."""
    named = Settings.from_env({**PRODUCTION, "CONTINUUM_TIMEZONE": "America/Denver"})
    assert named.timezone == "America/Denver"
    assert Settings.from_env({}).timezone == DEMO_TIMEZONE == "America/Chicago"
