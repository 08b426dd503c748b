"""Auditor's replays: the record on two time axes, reassessment review, chain verification.

These replay one participant's stream per request on purpose: an audit answers from the
stored events themselves, not from views that could lag or be rebuilt differently.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.http.bounds import QueryInstant
from api.http.dependencies import Application
from api.http.reads import LoggedRead, RecordRead
from api.routes import ParticipantId
from api.schemas.audit import HistoryView, ReassessmentReviewPage, ReviewBody, VerifyReport
from api.schemas.participants import ErrorBody
from api.security.authz import Auditor
from projections.history import known_by, program_of, replay
from projections.reassessment_review import BASIS, review

router = APIRouter(tags=["audit"])

KnownAt = Annotated[
    QueryInstant | None,
    Query(description="Recorded-time cut: only events recorded by then (ISO, offset; now)"),
]
AsOf = Annotated[
    QueryInstant | None,
    Query(description="Clinical time the state is effective at (ISO with offset; default now)"),
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such participant"},
    422: {"model": ErrorBody, "description": "Malformed participant id or time"},
}


@router.get(
    "/v1/participants/{participant_id}/history", response_model=HistoryView, responses=_ERRORS
)
def get_history(
    read: Annotated[RecordRead, Depends(LoggedRead("history"))],
    known_at: KnownAt = None,
    as_of: AsOf = None,
) -> HistoryView:
    """The participant's state as recorded by `known_at`, effective at `as_of`."""
    participant_id = read.participant.id  # the path's, read and validated by LoggedRead
    application, now = read.application, read.now
    known_at = known_at or now
    events = application.stream(participant_id)
    program_id = program_of(known_by(events, known_at)) or read.participant.program_id
    history = replay(
        events,
        known_at=known_at,
        as_of=as_of or now,
        policy=application.policy_timeline(program_id),
    )
    return HistoryView.of(participant_id, history)


@router.get(
    "/v1/audit/participants/{participant_id}/reassessments",
    response_model=ReassessmentReviewPage,
    responses=_ERRORS,
)
def get_reassessment_review(
    principal: Auditor,
    read: Annotated[RecordRead, Depends(LoggedRead("reassessment_review"))],
) -> ReassessmentReviewPage:
    """Each reassessment beside the record as it stood then, flagged against the public IOP
    decision boundaries of the program's policy (not ASAM's placement rules)."""
    participant_id = read.participant.id  # the path's, read and validated by LoggedRead
    application = read.application
    events = application.stream(participant_id)
    reviews = review(events, application.policy_timeline(read.participant.program_id))
    return ReassessmentReviewPage(
        participant_id=participant_id,
        basis=BASIS,
        reassessments=[ReviewBody.of(r) for r in reviews],
        flagged=sum(1 for r in reviews if r.flagged),
    )


@router.get(
    "/v1/audit/participants/{participant_id}/verify",
    response_model=VerifyReport,
    responses=_ERRORS,
)
def verify_participant(
    participant_id: ParticipantId,
    principal: Auditor,
    application: Application,
) -> VerifyReport:
    """Recompute the participant's hash chain from the stored rows; name the first break.

    Answers from the rows alone (a row that no longer decodes is a break, not an error), and
    returns ids, versions and hashes only: no record content, so it is not an access-log read.
    """
    return VerifyReport.of(participant_id, application.verify_participant(participant_id))
