"""api.bench.request_cost reads libpq's trace into round trips by the statements they carried."""

from __future__ import annotations

from api.bench.request_cost import round_trips

# libpq's trace (PQtrace, timestamps suppressed) of: a statement prepared before the trace
# began, bound twice; one prepared during it; an unnamed one; a pipeline of two statements
# with one Sync; and BEGIN/COMMIT by the simple protocol. "B" lines are the server's.
TRACE = """\
F\t28\tBind\t "" "_pg3_0" 1 1 1 2 '\\x00\\x01' 1 0
F\t6\tDescribe\t P ""
F\t9\tExecute\t "" 0
F\t4\tSync
B\t4\tBindComplete
B\t5\tReadyForQuery\t I
F\t28\tBind\t "" "_pg3_0" 1 1 1 2 '\\x00\\x02' 1 0
F\t9\tExecute\t "" 0
F\t4\tSync
F\t60\tParse\t "_pg3_1" "SELECT * FROM "public"."continuum_events" WHERE id = $1" 1 20
F\t4\tSync
B\t4\tParseComplete
F\t28\tBind\t "" "_pg3_1" 1 1 1 2 '\\x00\\x01' 1 0
F\t9\tExecute\t "" 0
F\t4\tSync
F\t40\tParse\t "" "SELECT 1" 0
F\t20\tBind\t "" "" 0 0 1 0
F\t9\tExecute\t "" 0
F\t4\tSync
F\t28\tBind\t "" "_pg3_0" 1 1 1 2 '\\x00\\x03' 1 0
F\t9\tExecute\t "" 0
F\t28\tBind\t "" "_pg3_1" 1 1 1 2 '\\x00\\x04' 1 0
F\t9\tExecute\t "" 0
F\t4\tSync
F\t10\tQuery\t "BEGIN"
B\t10\tCommandComplete\t "BEGIN"
F\t11\tQuery\t "COMMIT"
"""


def test_each_sync_or_query_is_one_round_trip_named_by_its_statements() -> None:
    trips = round_trips(TRACE, prepared={"_pg3_0": "SELECT position FROM tracking"})

    assert trips == {
        "SELECT position FROM tracking": 2,
        '(prepare) SELECT * FROM "continuum_events" WHERE id = $1': 1,
        'SELECT * FROM "continuum_events" WHERE id = $1': 1,
        "SELECT 1": 1,
        'SELECT position FROM tracking + SELECT * FROM "continuum_events" WHERE id = $1': 1,
        "BEGIN": 1,
        "COMMIT": 1,
    }
    assert sum(trips.values()) == 8


def test_a_statement_prepared_before_the_trace_and_not_named_is_still_counted() -> None:
    trips = round_trips(TRACE.split("F\t60")[0])

    assert trips == {"(prepared before the trace) _pg3_0": 2}
