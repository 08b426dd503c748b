"""Reads served from the stored views: compliance as of a date, and caseloads.

Compliance is judged at read time from the stored facts, so "as of" any date costs one row
read and no replay of the stream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

from domain.policy import PolicyTimeline
from projections import caseload, compliance
from projections.caseload import CaseloadRow
from projections.compliance import ComplianceReport
from projections.level_of_care import LevelOfCareState
from projections.participant_view import ParticipantFolds, ParticipantViewFold
from projections.view_store import ViewStore

PolicyLookup = Callable[[str], PolicyTimeline]


class ViewQueries:
    def __init__(self, store: ViewStore, policy_for: PolicyLookup) -> None:
        self.store = store
        self.policy_for = policy_for
        self.fold = ParticipantViewFold()

    def view(self, participant_id: str) -> ParticipantFolds | None:
        row = self.store.get(participant_id)
        return None if row is None else self.fold.decode(row)

    def level_of_care(self, participant_id: str) -> LevelOfCareState | None:
        view = self.view(participant_id)
        return None if view is None else view.level_of_care

    def compliance(self, participant_id: str, as_of: date | datetime) -> ComplianceReport | None:
        view = self.view(participant_id)
        if view is None or view.compliance is None:
            return None
        return compliance.evaluate(
            view.compliance, as_of, self.policy_for(view.compliance.program_id)
        )

    def caseload(
        self,
        *,
        program_ids: Sequence[str] | None,
        level: str | None,
        status: str | None,
        as_of: date,
    ) -> list[CaseloadRow]:
        rows = self.store.select(program_ids=program_ids, level=level, status=status)
        views = [self.fold.decode(row) for row in rows]
        states = [v.level_of_care for v in views if v.level_of_care is not None]
        policies: dict[str, PolicyTimeline] = {}
        reports: dict[str, ComplianceReport] = {}
        for view in views:
            if view.compliance is None:
                continue
            program = view.compliance.program_id
            if program not in policies:
                policies[program] = self.policy_for(program)
            reports[view.compliance.participant_id] = compliance.evaluate(
                view.compliance, as_of, policies[program]
            )
        built = caseload.build(states, reports, as_of, include_discharged=status == "discharged")
        return built.rows(level=level)
