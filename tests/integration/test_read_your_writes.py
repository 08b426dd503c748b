"""Per-participant reads see every acknowledged write, whatever the views' runner has applied.

The runner is not started here, so the stored rows lag on purpose: a read given the stream's
version must fold the missing tail itself; the same read without it shows the stale row
(which is what makes these tests able to fail).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from api.bootstrap import Service
from api.seed.commands import admission, recorded_session
from api.storage.views import Views
from domain.application import ContinuumApplication
from projections.view_store import ViewRow

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ADMITTED = datetime(2026, 2, 2, 9, tzinfo=UTC)
AS_OF = date(2026, 3, 1)


def admit(app: ContinuumApplication) -> tuple[str, int]:
    recorded = app.execute(
        admission(ADMITTED, program_id="p1", level="2.1"), recorded_by="test", now=NOW
    )
    return str(recorded.participant_id), recorded.version


def attend(app: ContinuumApplication, pid: str, day: int) -> int:
    recorded = app.execute(
        recorded_session(UUID(pid), ADMITTED + timedelta(days=day, hours=1), 120),
        recorded_by="test",
        now=NOW,
    )
    return recorded.version


def minutes(views: Views, pid: str, version: int | None) -> int | None:
    report = views.queries.compliance(pid, AS_OF, version)
    return None if report is None else sum(w.structured_minutes for w in report.weeks)


def test_a_read_folds_the_writes_its_row_lacks(service: Service, views: Views) -> None:
    """Given an admission the views have not applied, when it is read with its stream version,
    then it is found (never 404); and after the runner applied it, a later session the row
    lacks is in the read's totals, though not in the stored row."""
    app = service.application
    pid, version = admit(app)
    assert minutes(views, pid, None) is None  # no row yet
    assert minutes(views, pid, version) == 0  # found all the same

    views.runner.catch_up()
    version = attend(app, pid, 1)
    version = attend(app, pid, 8)
    assert minutes(views, pid, None) == 0  # the stored row: neither session
    assert minutes(views, pid, version) == 240

    views.runner.catch_up()  # once applied, the row itself says so and nothing is folded
    assert minutes(views, pid, None) == 240
    stored = views.store.get(pid)
    assert stored is not None and json.loads(stored.state)["version"] == version


def test_a_row_that_does_not_record_its_version_is_refolded(service: Service, views: Views) -> None:
    """Rows stored before the version was kept say nothing of what they hold: a read folds
    the stream from its start rather than applying any event twice."""
    app = service.application
    pid, _ = admit(app)
    attend(app, pid, 1)
    views.runner.catch_up()
    row = views.store.get(pid)
    assert row is not None
    state = json.loads(row.state)
    del state["version"]
    old = ViewRow(row.participant_id, row.program_id, row.status, row.level, json.dumps(state))
    # The tracking only moves forward; no test step reads the log past it afterwards.
    views.store.commit([old], views.store.position() + 1)
    version = attend(app, pid, 8)
    assert minutes(views, pid, version) == 240


def test_a_caseload_reports_the_position_it_reflects(service: Service, views: Views) -> None:
    app = service.application
    admit(app)
    views.runner.catch_up()
    rows = views.queries.caseload(program_ids=["p1"], level=None, status=None, as_of=AS_OF)
    assert len(rows) == 1
    assert views.store.position() == app.recorder.max_notification_id()
