"""A store written before prescriptions, re-codes and the retired taper setting existed still
replays: its events are stored exactly as the old code wrote them (same topics, same
fields), then the current code reads them, rebuilds identical views and verifies the chains.
On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from api.bootstrap import open_service
from api.cli.main import main
from api.seed.commands import admission
from api.settings import Settings
from domain.participant import Participant
from domain.policy import DEFAULT_POLICY
from domain.program import Program
from projections import compliance

ADMITTED = datetime(2026, 1, 5, 9, tzinfo=UTC)  # a Monday
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def old_policy() -> dict[str, object]:
    """A PolicyChanged body as the old code stored it: every setting, including the retired
    taper_after_step_down_admission, and timezone spelt out."""
    policy = {k: v for k, v in DEFAULT_POLICY.to_dict().items() if k not in _NEW_SETTINGS}
    return {**policy, "taper_after_step_down_admission": True, "timezone": "UTC"}


_NEW_SETTINGS = {
    "planned_discharge_reasons",
    "discharge_reassessment_days",
    "length_of_stay_levels",
    "medication_analytes",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    url = str(request.getfixturevalue(f"{request.param}_url"))
    monkeypatch.setenv("CONTINUUM_DATABASE_URL", url)
    monkeypatch.setenv("CONTINUUM_LOG_LEVEL", "WARNING")
    with open_service(Settings.from_env()) as service:
        app = service.application
        program = Program.open("old-iop", recorded_by="admin", now=ADMITTED - timedelta(days=30))
        # The old shape, triggered directly: the current command would not write the field.
        program.trigger_event(
            Program.PolicyChanged,
            policy=old_policy(),
            occurred_at=ADMITTED - timedelta(days=30),
            recorded_by="admin",
            timestamp=ADMITTED - timedelta(days=30),
        )
        app.save(program)
        participant = Participant.open(
            admission(ADMITTED, program_id="old-iop", level="1", pathway="primary"),
            uuid4(),
            recorded_by="clinician",
            now=ADMITTED,
        )
        # Before LevelRecoded existed, 3rd-edition 1 -> 4th-edition 1.5 was stored as SteppedUp.
        participant.trigger_event(
            Participant.SteppedUp,
            from_level="1",
            to_level="1.5",
            criteria_edition="4",
            reason="moved to the 4th edition",
            occurred_at=ADMITTED + timedelta(days=10),
            recorded_by="clinician",
            timestamp=ADMITTED + timedelta(days=10),
        )
        app.save(participant)
        request.node.participant_id = participant.id
    return url


def test_a_store_of_the_old_shapes_replays_and_verifies(
    old_store: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given the old rows, then the policy loads without the retired setting, the old
    SteppedUp 1 -> 1.5 is read as a re-code (no level-change reassessment due), `continuum
    rebuild --verify` finds the rebuilt views identical and `continuum verify --all` finds
    every chain intact."""
    participant_id = request.node.participant_id
    with open_service(Settings.from_env()) as service:
        timeline = service.application.policy_timeline("old-iop")
        assert timeline.at(NOW).timezone == "UTC"
        events = service.application.stream(participant_id)
    state = compliance.fold(events)
    assert state is not None and [s.level for s in state.stays] == ["1.5"]
    report = compliance.evaluate(state, NOW, timeline)
    assert [f for f in report.findings if f.rule == "reassessment_due"] == []

    assert main(["project", "--once"]) == 0
    capsys.readouterr()
    assert main(["rebuild", "--verify"]) == 0
    assert "identical" in capsys.readouterr().out
    assert main(["verify", "--all"]) == 0
    assert "all intact" in capsys.readouterr().out
