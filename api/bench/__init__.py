"""`scripts/bench`: the whole benchmark (command path, rebuild, live latency, HTTP load),
against each backend's own ceiling.

Modules: `common` (sizes, temporary stores, worker processes), `ceiling` (raw psycopg/sqlite3
writes, select+decode), `commands` (get + command + save), `rebuild_child` (a rebuild in its
own process, for its peak RSS), `live` (append -> visible latency), `http` + `load` (uvicorn and
a separate load-generating process), `run` (orchestration, table, bench/results.json).
"""
