"""The program policy cache: a change recorded by any process is seen by the next read."""

from __future__ import annotations

from datetime import UTC, datetime

from api.bootstrap import Service, open_url
from domain.application import ContinuumApplication
from domain.commands import ChangePolicy
from domain.policy import DEFAULT_POLICY

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_a_program_without_a_stream_has_the_defaults_until_one_is_recorded(
    app: ContinuumApplication,
) -> None:
    """Given a program never changed, its timeline is the defaults; when its first change is
    recorded, the next read has it."""
    assert app.policy_timeline("p1", as_stored=True).at(NOW) == DEFAULT_POLICY

    app.execute(ChangePolicy(program_id="p1", policy={"taper_weeks": 3}), recorded_by="t", now=NOW)

    assert app.policy_timeline("p1", as_stored=True).at(NOW).taper_weeks == 3


def test_a_change_by_another_process_is_seen_by_the_next_read(
    app: ContinuumApplication, service: Service, url: str
) -> None:
    """Given a timeline read (and kept) here, when another application on the same store
    records two changes, then the next read here has both, in order."""
    app.execute(ChangePolicy(program_id="p1", policy={"taper_weeks": 3}), recorded_by="t", now=NOW)
    before = app.policy_timeline("p1", as_stored=True)
    assert (
        app.policy_timeline("p1", as_stored=True) is before
    )  # unchanged stream: the kept timeline

    later = NOW.replace(hour=13)
    with open_url(url) as other:
        other.application.execute(
            ChangePolicy(program_id="p1", policy={"taper_weeks": 5}), recorded_by="t", now=later
        )

    after = app.policy_timeline("p1", as_stored=True)
    assert after is not before
    assert [policy.taper_weeks for _, policy in after.changes] == [3, 5]
    assert after.at(NOW).taper_weeks == 3
    assert after.at(later).taper_weeks == 5
