"""Reassessment review: each level-of-care decision beside what was known when it was made.

For every `Reassessed` event, the state is replayed from the events recorded before it (the
stream's prefix: nothing recorded later, not even a correction, was known to the clinician),
effective at the assessment's clinical time. Then the decision is set against the *public*
boundaries programs publish for intensive outpatient care (not sufficient when withdrawal needs
24-hour monitoring, symptoms need constant supervision, the home drives use, or earlier IOP
attempts ended in dropout or relapse), as the program's policy maps them to ratings:

- `iop_likely_insufficient`: IOP chosen while a dimension is rated at or above its threshold
  (d1, d3, d6 >= 3 by default), or after a documented failed IOP attempt (a discharge from IOP
  as dropped out in an earlier episode, or an unexpected positive screen while at IOP).
- `decided_differs_from_recommended`: the decided level is not the recommended one.

A flag is raised whether or not a rationale was recorded; `rationale_given` says which. These
are prompts for a human reviewer, never a placement: ASAM's own placement rules are licensed
content and are not encoded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.errors import InvalidValue
from domain.levels import LevelOfCare
from domain.participant import Participant
from domain.policy import PolicyTimeline, ProgramPolicy
from domain.values import ScreeningOutcome
from projections.compliance import state as compliance_state
from projections.compliance.cadence import Finding
from projections.compliance.state import ComplianceState, Entry, Episode
from projections.history import History, effective_at, policy_known_at, state_at
from projections.weeks import local_date

BASIS = "public decision boundaries (program policy); not ASAM placement rules"
IOP_LIKELY_INSUFFICIENT = "iop_likely_insufficient"
DECIDED_DIFFERS = "decided_differs_from_recommended"
DAYS_PER_WEEK = 7


@dataclass(frozen=True)
class Reason:
    """One finding behind a flag: a rating at a threshold, or an event documenting a failure."""

    kind: str  # rating | prior_iop_dropout | relapse_during_iop | level_mismatch
    detail: str
    event_id: str | None = None
    dimension: str | None = None
    rating: int | None = None
    threshold: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "event_id": self.event_id,
            "dimension": self.dimension,
            "rating": self.rating,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class Flag:
    flag: str
    rationale_given: bool
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "flag": self.flag,
            "rationale_given": self.rationale_given,
            "reasons": [r.to_dict() for r in self.reasons],
        }


@dataclass(frozen=True)
class Screen:
    event_id: str
    collected_at: datetime
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "collected_at": self.collected_at.isoformat(),
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class Before:
    """The record as it stood just before the reassessment was recorded."""

    status: str
    episode: int | None
    level: str | None
    level_since: datetime | None
    days_at_level: int | None
    structured_hours_window_days: int
    structured_hours: float  # attended structured sessions in the window before assessed_at
    previous_review: str | None  # the event id of the episode's previous live reassessment
    previous_review_at: datetime | None
    screens_since_previous_review: tuple[Screen, ...]
    open_findings: tuple[Finding, ...]

    @property
    def weeks_at_level(self) -> float | None:
        if self.days_at_level is None:
            return None
        return round(self.days_at_level / DAYS_PER_WEEK, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "episode": self.episode,
            "level": self.level,
            "level_since": None if self.level_since is None else self.level_since.isoformat(),
            "days_at_level": self.days_at_level,
            "weeks_at_level": self.weeks_at_level,
            "structured_hours_window_days": self.structured_hours_window_days,
            "structured_hours": self.structured_hours,
            "previous_review": self.previous_review,
            "previous_review_at": (
                None if self.previous_review_at is None else self.previous_review_at.isoformat()
            ),
            "screens_since_previous_review": [
                s.to_dict() for s in self.screens_since_previous_review
            ],
            "open_findings": [f.to_dict() for f in self.open_findings],
        }


@dataclass(frozen=True)
class ReassessmentReview:
    event_id: str
    version: int
    assessed_at: datetime
    recorded_at: datetime
    recorded_by: str
    criteria_edition: str
    dimensions: dict[str, int]
    recommended_level: str
    decided_level: str
    decision: str | None  # continue | step_down | step_up, against the level before
    rationale: str
    before: Before
    flags: tuple[Flag, ...]
    corrected_by: str | None  # an EntryCorrected recorded later, if any

    @property
    def rationale_given(self) -> bool:
        return bool(self.rationale.strip())

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "version": self.version,
            "assessed_at": self.assessed_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "recorded_by": self.recorded_by,
            "criteria_edition": self.criteria_edition,
            "dimensions": dict(self.dimensions),
            "recommended_level": self.recommended_level,
            "decided_level": self.decided_level,
            "decision": self.decision,
            "rationale": self.rationale,
            "rationale_given": self.rationale_given,
            "before": self.before.to_dict(),
            "flags": [f.to_dict() for f in self.flags],
            "corrected": self.corrected_by is not None,
            "corrected_by": self.corrected_by,
        }


def review(events: Sequence[Participant.Event], policy: PolicyTimeline) -> list[ReassessmentReview]:
    """A review of every reassessment in the participant's stream (in stream order)."""
    corrected_by = {
        str(e.corrected_event_id): str(e.event_id)
        for e in events
        if isinstance(e, Participant.EntryCorrected)
    }
    reviews = []
    for index, event in enumerate(events):
        if isinstance(event, Participant.Reassessed):
            reviews.append(
                review_one(events[:index], event, policy, corrected_by.get(str(event.event_id)))
            )
    return reviews


def review_one(
    before: Sequence[Participant.Event],
    reassessed: Participant.Reassessed,
    policy: PolicyTimeline,
    corrected_by: str | None = None,
) -> ReassessmentReview:
    """One reassessment against `before`, the events recorded before it."""
    known_policy = policy_known_at(policy, reassessed.timestamp)
    history = state_at(
        before,
        participant_id=str(reassessed.originator_id),
        known_at=reassessed.timestamp,
        as_of=reassessed.occurred_at,
        policy=known_policy,
    )
    in_force = known_policy.at(reassessed.occurred_at)
    facts = compliance_state.fold(before)
    effective = None if facts is None else effective_at(facts, reassessed.occurred_at)
    return ReassessmentReview(
        event_id=str(reassessed.event_id),
        version=reassessed.originator_version,
        assessed_at=reassessed.occurred_at,
        recorded_at=reassessed.timestamp,
        recorded_by=reassessed.recorded_by,
        criteria_edition=reassessed.criteria_edition,
        dimensions=dict(reassessed.dimensions),
        recommended_level=reassessed.recommended_level,
        decided_level=reassessed.decided_level,
        decision=_decision(history, reassessed),
        rationale=reassessed.rationale,
        before=_before(history, effective, reassessed.occurred_at, in_force),
        flags=tuple(_flags(before, effective, reassessed, in_force)),
        corrected_by=corrected_by,
    )


# ---- the state before -------------------------------------------------------------------------


def _before(
    history: History,
    facts: ComplianceState | None,
    assessed_at: datetime,
    policy: ProgramPolicy,
) -> Before:
    episode = history.episode
    window = policy.review_hours_window_days
    previous: Entry | None = None
    screens: list[Screen] = []
    minutes = 0
    if facts is not None and episode is not None:
        reviews = _episode_entries(facts, "reassessment", episode)
        previous = reviews[-1] if reviews else None
        since = episode.admitted_at if previous is None else previous.occurred_at
        screens = [
            Screen(s.event_id, s.occurred_at, _outcome(facts, s, policy))
            for s in _episode_entries(facts, "screening", episode)
            if (s.occurred_at > since if previous is not None else s.occurred_at >= since)
        ]
        window_start = assessed_at - timedelta(days=window)
        minutes = sum(
            s.minutes
            for s in _episode_entries(facts, "session", episode)
            if s.attended
            and s.occurred_at > window_start
            and policy.counts_as_structured(s.service or "")
        )
    since_level = history.level_since
    report = history.compliance
    return Before(
        status=history.status,
        episode=None if episode is None else episode.number,
        level=history.level,
        level_since=since_level,
        days_at_level=None if since_level is None else (assessed_at - since_level).days,
        structured_hours_window_days=window,
        structured_hours=round(minutes / 60, 2),
        previous_review=None if previous is None else previous.event_id,
        previous_review_at=None if previous is None else previous.occurred_at,
        screens_since_previous_review=tuple(screens),
        open_findings=() if report is None else report.open_findings,
    )


def _episode_entries(facts: ComplianceState, kind: str, episode: Episode) -> list[Entry]:
    """Live entries of `kind` in `episode` (facts already cut at the assessment's time)."""
    return [e for e in facts.live_entries(kind) if e.occurred_at >= episode.admitted_at]


def _decision(history: History, reassessed: Participant.Reassessed) -> str | None:
    if history.level is None or history.span is None:
        return None
    try:
        current = LevelOfCare.parse(history.level, history.span.criteria_edition)
        decided = LevelOfCare.parse(reassessed.decided_level, reassessed.criteria_edition)
    except InvalidValue:  # a code the current catalogue no longer knows: no comparison
        return None
    if decided.same_intensity(current):
        return "continue"
    return "step_down" if decided < current else "step_up"


# ---- flags ------------------------------------------------------------------------------------


def _flags(
    before: Sequence[Participant.Event],
    facts: ComplianceState | None,
    reassessed: Participant.Reassessed,
    policy: ProgramPolicy,
) -> list[Flag]:
    rationale_given = bool(reassessed.rationale.strip())
    flags: list[Flag] = []
    if reassessed.decided_level in policy.iop_levels:
        reasons = [
            *_ratings_at_threshold(reassessed, policy),
            *_prior_iop_dropouts(before, reassessed.occurred_at, policy),
            *_relapses_during_iop(facts, policy),
        ]
        if reasons:
            flags.append(Flag(IOP_LIKELY_INSUFFICIENT, rationale_given, tuple(reasons)))
    if reassessed.decided_level != reassessed.recommended_level:
        detail = f"decided {reassessed.decided_level}, recommended {reassessed.recommended_level}"
        flags.append(Flag(DECIDED_DIFFERS, rationale_given, (Reason("level_mismatch", detail),)))
    return flags


def _ratings_at_threshold(
    reassessed: Participant.Reassessed, policy: ProgramPolicy
) -> list[Reason]:
    reasons = []
    for dimension, threshold in policy.iop_insufficient_ratings:
        rating = reassessed.dimensions.get(dimension)
        if rating is not None and rating >= threshold:
            reasons.append(
                Reason(
                    "rating",
                    f"{dimension} rated {rating} (IOP likely insufficient from {threshold})",
                    dimension=dimension,
                    rating=rating,
                    threshold=threshold,
                )
            )
    return reasons


def _prior_iop_dropouts(
    before: Sequence[Participant.Event], assessed_at: datetime, policy: ProgramPolicy
) -> list[Reason]:
    """Discharges from an IOP level with a failure reason (all in earlier episodes: the
    current one is still open, or the reassessment would have been refused)."""
    reasons = []
    level: str | None = None
    episode = 0
    for event in before:
        if isinstance(event, Participant.Admitted):
            level, episode = event.level, event.episode
        elif isinstance(event, Participant.LevelChanged):
            level = event.to_level
        elif (
            isinstance(event, Participant.Discharged)
            and level in policy.iop_levels
            and event.reason in policy.iop_failed_discharge_reasons
            and event.occurred_at <= assessed_at
        ):
            reasons.append(
                Reason(
                    "prior_iop_dropout",
                    f"discharged from {level} as {event.reason} in episode {episode}",
                    event_id=str(event.event_id),
                )
            )
    return reasons


def _outcome(facts: ComplianceState, screen: Entry, policy: ProgramPolicy) -> str:
    """The screen's outcome; a positive only active prescriptions explain is expected."""
    day = local_date(screen.occurred_at, policy.timezone or "UTC")
    return facts.outcome_of(screen, policy.analytes_of, day)


def _relapses_during_iop(facts: ComplianceState | None, policy: ProgramPolicy) -> list[Reason]:
    """Unexpected positive screens (not known to be in error) taken during a stay at IOP."""
    if facts is None or not policy.iop_relapse_on_unexpected_positive:
        return []
    iop_stays = [s for s in facts.stays if s.level in policy.iop_levels]
    reasons = []
    for screen in facts.live_entries("screening"):
        if _outcome(facts, screen, policy) != ScreeningOutcome.UNEXPECTED_POSITIVE.value:
            continue
        stay = next(
            (
                s
                for s in iop_stays
                if s.started_at <= screen.occurred_at
                and (s.ended_at is None or screen.occurred_at < s.ended_at)
            ),
            None,
        )
        if stay is not None:
            reasons.append(
                Reason(
                    "relapse_during_iop",
                    f"unexpected positive screen at level {stay.level} "
                    f"on {screen.occurred_at.date().isoformat()}",
                    event_id=screen.event_id,
                )
            )
    return reasons
