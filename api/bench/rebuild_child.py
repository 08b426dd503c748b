"""A rebuild of every view from position 0, alone in this process, as `continuum rebuild` runs
it; prints JSON with the events replayed, the seconds and this process's peak RSS.

    python -m api.bench.rebuild_child STORE_URL
"""

from __future__ import annotations

import json
import resource
import sys
import time

from api.bootstrap import open_url
from api.cli.views import REBUILD_BATCH_SIZE


def main(argv: list[str]) -> int:
    service = open_url(argv[0], pool_size=2)
    app = service.application
    try:
        views = service.views
        views.runner.batch_size = REBUILD_BATCH_SIZE
        head = app.recorder.max_notification_id() or 0
        started = time.perf_counter()
        position = views.runner.rebuild()
        seconds = time.perf_counter() - started
    finally:
        app.close()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"head": head, "position": position, "seconds": seconds,
                      "peak_rss_mib": round(peak_kib / 1024, 1)}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
