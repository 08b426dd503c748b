"""A view runner's failures are logged, backed off and visible; a poison event is never skipped."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from structlog.testing import capture_logs

from api.bootstrap import Service
from api.seed.commands import admission
from api.storage.views import Views
from domain.participant import Participant
from projections.participant_view import ParticipantFolds, ParticipantViewFold

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class BrokenOnAdmission(ParticipantViewFold):
    """A fold with a bug: it cannot apply an admission."""

    def apply(self, view: ParticipantFolds, event: Any, participant_id: str) -> ParticipantFolds:
        if isinstance(event, Participant.Admitted):
            raise ValueError("a fold bug")
        return super().apply(view, event, participant_id)


def test_a_poison_event_stops_the_view_visibly_until_the_fold_is_fixed(
    service: Service, views: Views
) -> None:
    app = service.application
    app.execute(admission(NOW, program_id="p1", level="2.1"), recorded_by="t", now=NOW)
    head = app.recorder.max_notification_id() or 0
    good_fold = views.runner.fold
    views.runner.fold = BrokenOnAdmission()
    with capture_logs() as logs:
        wait = views.runner.attempt(0.01)
        views.runner.attempt(0.01)  # still failing: logged once per poison event
    assert wait == 0.0
    assert views.store.position() < head  # nothing skipped
    stalled = views.runner.stalled
    assert stalled is not None and stalled.topic.endswith("Admitted.v1")
    assert stalled.position <= head
    errors = [e for e in logs if e["event"] == "view_stalled"]
    assert len(errors) == 1
    assert errors[0]["event_type"] == stalled.topic and errors[0]["event_position"] > 0
    assert views.runner.failures == 2

    views.runner.fold = good_fold  # the fix is deployed
    with capture_logs() as logs:
        views.runner.attempt(0.01)
    assert views.runner.stalled is None and views.runner.failures == 0
    assert views.store.position() == head
    assert [e["event"] for e in logs] == ["views_resumed"]


def test_failures_back_off_and_stop_promptly(service: Service, views: Views) -> None:
    """A failing catch-up waits longer each time (up to a cap), and stop() interrupts it."""
    app = service.application
    app.execute(admission(NOW, program_id="p1", level="2.1"), recorded_by="t", now=NOW)
    views.runner.fold = BrokenOnAdmission()
    views.runner.failures = 10  # a long outage already: the next wait is the cap
    views.runner.start(poll_interval=0.01)
    time.sleep(0.3)
    failures = views.runner.failures
    assert failures == 11  # one attempt, then waiting out the backoff
    started = time.monotonic()
    views.runner.stop()
    assert time.monotonic() - started < 5
