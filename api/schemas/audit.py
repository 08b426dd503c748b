"""Response shapes of the auditor's replays: history on two time axes, reassessment review,
and hash-chain verification."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.views import FindingBody, WeekBody
from domain.chain import Break, ChainReport
from projections.history import History
from projections.level_of_care import LevelSpan
from projections.reassessment_review import BASIS, ReassessmentReview

# ---- history ----------------------------------------------------------------------------------


class LevelSpanBody(BaseModel):
    """A stay at a level; `to` is null while it was still open at `as_of`."""

    model_config = ConfigDict(populate_by_name=True)

    level: str
    criteria_edition: str
    episode: int
    started_at: datetime = Field(alias="from")
    ended_at: datetime | None = Field(alias="to")
    event_id: str

    @classmethod
    def of(cls, span: LevelSpan) -> LevelSpanBody:
        return cls.model_validate(span.to_dict())


class CorrectionBody(BaseModel):
    event_id: str
    corrected_event_id: str
    recorded_at: datetime
    reason: str


class HistoryCompliance(BaseModel):
    """Compliance judged as of `as_of`'s calendar day, from the facts occurred by `as_of`."""

    as_of: date
    weeks: list[WeekBody]
    findings: list[FindingBody]


class HistoryView(BaseModel):
    """The participant's state as recorded by `known_at`, effective at `as_of`."""

    participant_id: UUID
    known_at: datetime
    as_of: datetime
    stream_version: int = Field(description="The stream's version at known_at (0: not recorded)")
    recorded_later: int = Field(description="Events of the stream recorded after known_at")
    program_id: str | None
    status: str = Field(description="not_recorded, registered, active or discharged at as_of")
    episode: int | None
    age_group: str | None
    admitted_at: datetime | None
    discharged_at: datetime | None
    level: str | None
    criteria_edition: str | None
    level_since: datetime | None
    level_history: list[LevelSpanBody]
    corrections: list[CorrectionBody] = Field(
        description="Entries known by known_at to be entered in error (they do not count)"
    )
    compliance: HistoryCompliance | None

    @classmethod
    def of(cls, participant_id: UUID, history: History) -> HistoryView:
        episode, span, report = history.episode, history.span, history.compliance
        return cls(
            participant_id=participant_id,
            known_at=history.known_at,
            as_of=history.as_of,
            stream_version=history.stream_version,
            recorded_later=history.recorded_later,
            program_id=history.program_id,
            status=history.status,
            episode=None if episode is None else episode.number,
            age_group=None if episode is None else episode.age_group,
            admitted_at=None if episode is None else episode.admitted_at,
            discharged_at=None if episode is None else episode.discharged_at,
            level=history.level,
            criteria_edition=None if span is None else span.criteria_edition,
            level_since=history.level_since,
            level_history=[LevelSpanBody.of(s) for s in history.level_history],
            corrections=[CorrectionBody(**c.to_dict()) for c in history.corrections],
            compliance=None
            if report is None
            else HistoryCompliance(
                as_of=report.as_of,
                weeks=[WeekBody.of(w) for w in report.weeks],
                findings=[FindingBody.of(f) for f in report.findings],
            ),
        )


# ---- reassessment review ----------------------------------------------------------------------


class ReasonBody(BaseModel):
    kind: str = Field(description="rating, prior_iop_dropout, relapse_during_iop, level_mismatch")
    detail: str
    event_id: str | None
    dimension: str | None
    rating: int | None
    threshold: int | None


class FlagBody(BaseModel):
    flag: str = Field(description="iop_likely_insufficient or decided_differs_from_recommended")
    rationale_given: bool
    reasons: list[ReasonBody]


class ScreenBody(BaseModel):
    event_id: str
    collected_at: datetime
    outcome: str


class BeforeBody(BaseModel):
    """The record as it stood just before the reassessment was recorded, at its clinical time."""

    status: str
    episode: int | None
    level: str | None
    level_since: datetime | None
    days_at_level: int | None
    weeks_at_level: float | None
    structured_hours_window_days: int
    structured_hours: float = Field(
        description="Attended structured hours in the window before the assessment"
    )
    previous_review: str | None
    previous_review_at: datetime | None
    screens_since_previous_review: list[ScreenBody]
    open_findings: list[FindingBody]


class ReviewBody(BaseModel):
    event_id: str
    version: int
    assessed_at: datetime
    recorded_at: datetime
    recorded_by: str
    criteria_edition: str
    dimensions: dict[str, int]
    recommended_level: str
    decided_level: str
    decision: str | None = Field(description="continue, step_down or step_up from the level")
    rationale: str
    rationale_given: bool
    before: BeforeBody
    flags: list[FlagBody]
    corrected: bool
    corrected_by: str | None

    @classmethod
    def of(cls, review: ReassessmentReview) -> ReviewBody:
        return cls.model_validate(review.to_dict())


class ReassessmentReviewPage(BaseModel):
    participant_id: UUID
    basis: str = Field(
        description="What the flags are measured against; never ASAM's placement rules",
        examples=[BASIS],
    )
    reassessments: list[ReviewBody]
    flagged: int = Field(description="How many reassessments carry at least one flag")


# ---- verification -----------------------------------------------------------------------------


class BreakBody(BaseModel):
    """The first event where the stream stops matching its hash chain."""

    event_id: UUID | None
    version: int
    kind: str = Field(description="content, link, gap, unchained, unreadable or snapshot")
    detail: str
    expected: str | None
    found: str | None


class VerifyReport(BaseModel):
    participant_id: UUID
    ok: bool
    events: int
    chained: int
    legacy: int = Field(description="Events from before the chain, hashed on the fly")
    broken: int
    sealed: bool = Field(description="The last event carries its own hash")
    head_version: int
    head_hash: str
    first_break: BreakBody | None
    snapshot_breaks: list[BreakBody] = Field(
        default_factory=list,
        description="Stored snapshots that do not match the events (never used: replayed)",
    )

    @classmethod
    def of(cls, participant_id: UUID, report: ChainReport) -> VerifyReport:
        return cls(
            participant_id=participant_id,
            ok=report.ok,
            events=report.events,
            chained=report.chained,
            legacy=report.legacy,
            broken=report.broken,
            sealed=report.sealed,
            head_version=report.head_version,
            head_hash=report.head_hash,
            first_break=None if report.first_break is None else _break(report.first_break),
            snapshot_breaks=[_break(b) for b in report.snapshot_breaks],
        )


def _break(b: Break) -> BreakBody:
    return BreakBody(
        event_id=b.event_id,
        version=b.version,
        kind=b.kind,
        detail=b.detail,
        expected=b.expected,
        found=b.found,
    )
