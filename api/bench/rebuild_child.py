"""A rebuild of every view from position 0, alone in this process, as `continuum rebuild` runs
it; prints JSON with the events replayed, the seconds, the peak RSS and the views' digest.

    python -m api.bench.rebuild_child STORE_URL [WORKERS]

With WORKERS > 1, `continuum rebuild --workers N`'s path (api.cli.rebuilds): the peak RSS is
then the largest of this process and its worker processes.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

from api.bootstrap import open_url
from api.cli.rebuilds import parallel_rebuild
from api.cli.views import REBUILD_BATCH_SIZE


def main(argv: list[str]) -> int:
    workers = int(argv[1]) if len(argv) > 1 else 1
    service = open_url(argv[0], pool_size=2)
    app = service.application
    try:
        views = service.views
        views.runner.batch_size = REBUILD_BATCH_SIZE
        head = app.recorder.max_notification_id() or 0
        started = time.perf_counter()
        if workers > 1:
            # The workers open the store from the environment, as `continuum rebuild` does.
            os.environ["CONTINUUM_DATABASE_URL"] = argv[0]
            position = parallel_rebuild(service, workers, batch_size=REBUILD_BATCH_SIZE)
        else:
            position = views.runner.rebuild()
        seconds = time.perf_counter() - started
        # Read before the digest, which holds every row at once: the rebuild's peak alone.
        peak_kib = max(
            resource.getrusage(who).ru_maxrss  # KiB on Linux
            for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        )
        digest = views.store.digest()
    finally:
        app.close()
    print(json.dumps({"head": head, "position": position, "seconds": seconds, "workers": workers,
                      "peak_rss_mib": round(peak_kib / 1024, 1), "digest": digest}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
