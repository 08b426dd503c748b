"""Checks of plain inputs shared by the aggregates: aware date-times and bounded text."""

from __future__ import annotations

from datetime import datetime

from domain.errors import InvalidValue

MAX_TEXT = 2000


def check_aware(value: object, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidValue(field, "must be a date-time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(field, "must carry a UTC offset, e.g. 2026-02-02T09:00:00Z")
    return value


def check_optional_text(value: object, field: str, *, required: bool = True) -> None:
    """As `check_text` when given; a field left out (None) passes."""
    if value is not None:
        check_text(value, field, required=required)


def check_text(value: object, field: str, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidValue(field, "must be text")
    if required and not value.strip():
        raise InvalidValue(field, "must not be empty")
    if len(value) > MAX_TEXT:
        raise InvalidValue(field, f"must be at most {MAX_TEXT} characters")
    return value
