"""The access log's columns as the schema creates them are the ones its writers name.

The table is created by the schema's versioned DDL (api.storage.schema), while the group
commit's INSERT and the read gate's JSON recordset spell the columns and their types from
`FIELD_TYPES`: if the two drift apart, every logged read fails (503), so they are compared
on a real store.
"""

from __future__ import annotations

from api.bootstrap import open_url
from api.storage.access_log import FIELD_TYPES, PostgresAccessLog


def test_the_postgres_access_log_has_the_columns_its_writers_name(postgres_url: str) -> None:
    service = open_url(postgres_url, pool_size=2)
    try:
        log = service.access_log
        assert isinstance(log, PostgresAccessLog)
        with log.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type "
                "FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 "
                "AND NOT a.attisdropped ORDER BY a.attnum",
                (f'"{log.datastore.schema}"."{log.table_name}"',),
            )
            columns = [(row["name"], row["type"]) for row in curs.fetchall()]
            named = []
            for name, kind in FIELD_TYPES.items():
                curs.execute("SELECT %s::regtype::text AS type", (kind,))
                named.append((name, curs.fetchone()["type"]))  # type: ignore[index]
        assert columns == [("id", "bigint"), *named]
    finally:
        service.close()
