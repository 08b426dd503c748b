"""Rows sent to PostgreSQL as one JSON parameter, read back by `json_to_recordset`.

psycopg dumps Python lists into arrays in Python, and a statement taking a column per array
paid that per column (~5% of a timeline read's server CPU, PostgresQuery.dump under py-spy); a
str is dumped in C. Measured over 3,000 statements: a group of 4 rows cost 338-376 us of client
CPU as arrays and 205-212 us as JSON (docs/performance.md, "one JSON parameter"). The JSON is
written by orjson: the standard library's encoder was ~6% of a timeline read's CPU in one
process (py-spy over request_cost), orjson's a fraction of that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from psycopg.sql import SQL, Composed, Identifier


def recordset_columns(types: Mapping[str, str]) -> Composed:
    """`name type, ...`: the column definitions of `json_to_recordset(...) AS w(...)`."""
    return SQL(", ").join(
        SQL("{} {}").format(Identifier(name), SQL(kind)) for name, kind in types.items()
    )


def recordset_json(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """`rows` as the JSON array of objects `json_to_recordset` reads: datetimes (RFC 3339) and
    UUIDs as their text, which PostgreSQL casts to the column's type; anything else orjson
    does not know, as `str` gives it."""
    objects = [dict(zip(names, row, strict=True)) for row in rows]
    return orjson.dumps(objects, default=str).decode()
