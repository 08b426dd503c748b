"""Rows sent as one JSON parameter come back from PostgreSQL's json_to_recordset as sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from uuid import UUID, uuid4

import psycopg
from psycopg.sql import SQL

from api.storage.recordsets import recordset_columns, recordset_json

COLUMNS = {"at": "timestamptz", "participant_id": "uuid", "purpose": "text", "n": "bigint"}


class Purpose(StrEnum):
    COC = "COC"


def test_rows_round_trip_through_json_to_recordset(postgres_url: str) -> None:
    """Times to the microsecond (UTC or another offset), UUIDs, a StrEnum, a 63-bit integer
    and a null are read back by PostgreSQL as the values sent, in order."""
    rows = [
        (datetime(2026, 12, 4, 23, 59, 59, 999_999, tzinfo=UTC), uuid4(), Purpose.COC, 2**62),
        (
            datetime(2026, 3, 8, 2, 30, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
            uuid4(),
            None,
            -1,
        ),
    ]
    statement = SQL("SELECT * FROM json_to_recordset(%s::json) AS w({columns})").format(
        columns=recordset_columns(COLUMNS)
    )
    with psycopg.connect(postgres_url) as connection:
        connection.execute("SET TIME ZONE 'Pacific/Auckland'")  # not the rows' own offsets
        found = connection.execute(statement, (recordset_json(list(COLUMNS), rows),)).fetchall()
    assert [(at, UUID(str(pid)), purpose, n) for at, pid, purpose, n in found] == [
        (rows[0][0], rows[0][1], "COC", 2**62),
        (rows[1][0], rows[1][1], None, -1),
    ]
