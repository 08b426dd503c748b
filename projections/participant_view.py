"""One stored row per participant: the level-of-care and compliance folds, side by side.

The row keeps each fold's state (facts, not verdicts), so a read evaluates compliance as of
any date without replaying the stream. It also records the stream version it has folded, so
a read can fold just the events a lagging view has not applied yet (ViewQueries.current).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from domain.participant import Participant
from projections import level_of_care
from projections.compliance import state as compliance_state
from projections.compliance.state import ComplianceState
from projections.event_ids import event_id_text
from projections.level_of_care import LevelOfCareState
from projections.view_json import compact_json
from projections.view_store import ViewRow


@dataclass
class ParticipantFolds:
    """One participant's stored view row, decoded: the state of each fold."""

    level_of_care: LevelOfCareState | None = None
    compliance: ComplianceState | None = None
    # The participant's stream version folded in; None for a row stored before it was kept,
    # whose state a read cannot extend and so refolds from the stream's start.
    version: int | None = 0


class ParticipantViewFold:
    """The runner's fold: decode a stored row, apply events, encode the row again."""

    def __init__(self) -> None:
        # Per event class: the library's event classes make isinstance slow, and a rebuild
        # asks once per event.
        self._accepted: dict[type, bool] = {}

    def accepts(self, event: object) -> bool:
        kind = type(event)
        accepted = self._accepted.get(kind)
        if accepted is None:
            accepted = self._accepted[kind] = issubclass(kind, Participant.Event)
        return accepted

    def decode(self, row: ViewRow | None) -> ParticipantFolds:
        if row is None:
            return ParticipantFolds()
        data = json.loads(row.state)
        return ParticipantFolds(
            level_of_care=LevelOfCareState.from_dict(data["level_of_care"]),
            compliance=ComplianceState.from_dict(data["compliance"]),
            version=data.get("version"),
        )

    def apply(self, view: ParticipantFolds, event: Any, participant_id: str) -> ParticipantFolds:
        event_id = event_id_text(participant_id, event.originator_version)
        view.level_of_care = level_of_care.apply(view.level_of_care, event, event_id)
        view.compliance = compliance_state.apply(view.compliance, event, event_id)
        view.version = event.originator_version
        return view

    def encode(self, participant_id: str, view: ParticipantFolds) -> ViewRow:
        loc, compliance = view.level_of_care, view.compliance
        if loc is None or compliance is None:
            msg = f"participant {participant_id}'s stream does not start with Registered"
            raise ValueError(msg)
        # Spliced by hand so the compliance entries are not re-encoded (see ComplianceState).
        state = (
            f'{{"compliance":{compliance.to_json()},'
            f'"level_of_care":{compact_json(loc.to_dict())},'
            f'"version":{json.dumps(view.version)}}}'
        )
        return ViewRow(participant_id, loc.program_id, loc.status, loc.level, state)
