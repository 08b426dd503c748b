"""Reads served from the stored views: compliance as of a date, and caseloads.

Compliance is judged at read time from the stored facts, so "as of" any date costs one row
read and no replay of the stream.

A per-participant read must reflect every write to that participant acknowledged before it
began, while the views follow the log asynchronously. The read knows the stream's current
version (it loaded the participant to check scope); when the row has folded less, the read
folds the missing tail of the stream onto the row's state in memory (usually an event or two)
instead of waiting for the runner. Cross-participant reads (caseloads) serve the rows as they
are and report the log position they reflect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from uuid import UUID

from domain.policy import PolicyTimeline
from projections import caseload, compliance
from projections.caseload import CaseloadRow
from projections.compliance import ComplianceReport
from projections.level_of_care import LevelOfCareState
from projections.participant_view import ParticipantFolds, ParticipantViewFold
from projections.view_store import ViewStore

PolicyLookup = Callable[[str], PolicyTimeline]
# (participant id, after version, up to version) -> that slice of the participant's stream.
StreamTail = Callable[[UUID, int, int], Iterable[object]]
# Called with the number of events a read folded itself (a metric of how far views lag).
TailFolded = Callable[[int], None]


class TooManyRows(Exception):
    def __init__(self, rows: int, limit: int) -> None:
        super().__init__(f"{rows} participants match; at most {limit} are judged in one read")
        self.rows = rows
        self.limit = limit


class ViewQueries:
    def __init__(
        self,
        store: ViewStore,
        policy_for: PolicyLookup,
        stream_tail: StreamTail | None = None,
        on_tail_folded: TailFolded | None = None,
    ) -> None:
        self.store = store
        self.policy_for = policy_for
        self.stream_tail = stream_tail
        self.on_tail_folded = on_tail_folded
        self.fold = ParticipantViewFold()

    def view(self, participant_id: str, version: int | None = None) -> ParticipantFolds | None:
        """The participant's stored view; with `version` (the stream's current version), one
        that includes every event up to it, folding what the stored row lacks."""
        row = self.store.get(participant_id)
        view = None if row is None else self.fold.decode(row)
        if version is None or self.stream_tail is None:
            return view
        if view is not None and view.version is not None and view.version >= version:
            return view
        if view is None or view.version is None:
            view = ParticipantFolds()  # no row yet, or one that does not say what it holds
        folded = view.version or 0
        tail = list(self.stream_tail(UUID(participant_id), folded, version))
        for event in tail:
            if self.fold.accepts(event):
                view = self.fold.apply(view, event, participant_id)
        if self.on_tail_folded is not None:
            self.on_tail_folded(len(tail))
        return view if view.compliance is not None else None

    def level_of_care(
        self, participant_id: str, version: int | None = None
    ) -> LevelOfCareState | None:
        view = self.view(participant_id, version)
        return None if view is None else view.level_of_care

    def compliance(
        self, participant_id: str, as_of: date | datetime, version: int | None = None
    ) -> ComplianceReport | None:
        """Compliance as of `as_of`; with `version`, including the stream up to it."""
        view = self.view(participant_id, version)
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
        max_rows: int | None = None,
    ) -> list[CaseloadRow]:
        """The caseload; with `max_rows`, TooManyRows when more participants match."""
        rows = self.store.select(program_ids=program_ids, level=level, status=status)
        if max_rows is not None and len(rows) > max_rows:
            raise TooManyRows(len(rows), max_rows)
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
