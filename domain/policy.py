"""Program policy: the compliance thresholds a program runs by, with DOMAIN.md's defaults.

Payers and states differ, so every figure here is a setting, never a constant in a rule.
A policy change applies from the moment it is recorded: a `PolicyTimeline` holds the policy
in force from each moment on, so replaying the same events with the same timeline gives the
same report (a later `PolicyChanged` event on a Program aggregate only has to append to it).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from domain.errors import InvalidValue
from domain.values import DIMENSIONS

MAX_RATING = 4  # dimensions are rated for risk 0 (none) to 4 (severe)


@dataclass(frozen=True)
class MinimumHours:
    """The structured hours a full calendar week at `level` needs for an age group."""

    level: str
    age_group: str
    hours: float


DEFAULT_MINIMUM_HOURS: tuple[MinimumHours, ...] = (
    # ASAM; Virginia 12VAC30-130-5090. Codes 2.1 and 2.5 mean the same in both editions.
    MinimumHours("2.1", "adult", 9),
    MinimumHours("2.1", "adolescent", 6),
    MinimumHours("2.5", "adult", 20),
    MinimumHours("2.5", "adolescent", 20),
)

DEFAULT_STRUCTURED_SERVICES = frozenset({"group", "psychoeducation", "individual", "family"})
DEFAULT_IOP_LEVELS = frozenset({"2.1"})
DEFAULT_IOP_INSUFFICIENT_RATINGS: tuple[tuple[str, int], ...] = (("d1", 3), ("d3", 3), ("d6", 3))
# The parent drug and the metabolites a urine drug test reports for it (SAMHSA, "Clinical Drug
# Testing in Primary Care", TAP 32, 2012: norbuprenorphine, EDDP, 6-beta-naltrexol).
DEFAULT_MEDICATION_ANALYTES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("buprenorphine", ("buprenorphine", "norbuprenorphine")),
    ("methadone", ("eddp", "methadone")),
    ("naltrexone", ("6-beta-naltrexol", "naltrexone")),
)
# Settings earlier versions stored in PolicyChanged events that no rule reads any more; a
# stored policy that carries one still loads (its value is ignored). The taper after a
# step-down admission was retired: the weeks after entering a level are judged normally.
RETIRED_SETTINGS = frozenset({"taper_after_step_down_admission"})


@dataclass(frozen=True)
class ProgramPolicy:
    """One program's compliance settings; every default is from DOMAIN.md's rule table."""

    minimum_hours: tuple[MinimumHours, ...] = DEFAULT_MINIMUM_HOURS
    # Case management is left out by default (DOMAIN.md "Services in a program week").
    structured_services: frozenset[str] = DEFAULT_STRUCTURED_SERVICES
    # Aetna ASAM policy: below the minimum is allowed while stepping down out of a level, for
    # this many covered weeks after a reassessment at the level decided a lower one.
    taper_weeks: int = 2
    individual_therapy_days: int = 14
    # ASAM Drug Testing Consensus (2017): weekly in the first 90 days, then monthly.
    screening_days_early: int = 7
    screening_early_period_days: int = 90
    screening_days_later: int = 30
    # Illinois 77 IAC 2060.423: every 30 days at Level 2.x, at every level change and before a
    # planned discharge.
    reassessment_days: int = 30
    reassessment_level_prefix: str = "2."
    # The source gives no window for "at every level change": a reassessment this many days
    # either side of the change counts as the change's reassessment.
    level_change_reassessment_days: int = 7
    # A discharge is planned when it has one of these reasons or names a level referred to;
    # it needs a reassessment within this many days before it.
    planned_discharge_reasons: frozenset[str] = frozenset({"completed", "transferred"})
    discharge_reassessment_days: int = 7
    attendance_gap_days: int = 7
    positive_screen_followup_days: int = 7
    # Typical IOP stay 8-16 weeks: counted over the days spent at these levels in an episode.
    length_of_stay_weeks: int = 16
    length_of_stay_levels: frozenset[str] = frozenset({"2.1"})
    length_of_stay_reassessment_days: int = 30
    # Illinois 77 IAC 2060.480: a discharge summary within 15 days after discharge.
    discharge_summary_days: int = 15
    # Medicare IOP (CY 2024 OPPS final rule): recertification every 60 days from admission.
    # None = not evaluated: only programs billing Medicare IOP set it.
    recertification_days: int | None = None
    # Calendar days, weeks (Monday-Sunday) and due dates are counted in this IANA zone;
    # None = the service's zone for programs that set none (CONTINUUM_TIMEZONE).
    timezone: str | None = None
    # The analytes a lab reports for each medication: a positive only for analytes of a
    # prescription active on the collection date is expected, not a relapse.
    medication_analytes: tuple[tuple[str, tuple[str, ...]], ...] = DEFAULT_MEDICATION_ANALYTES
    # Reassessment review (DOMAIN.md "Public decision boundaries for IOP"): the public mapping
    # of ratings to "IOP likely insufficient". Not ASAM's placement rules, which are licensed.
    iop_levels: frozenset[str] = DEFAULT_IOP_LEVELS
    # A dimension rated at or above its threshold contradicts choosing IOP (d1, d3, d6 >= 3).
    iop_insufficient_ratings: tuple[tuple[str, int], ...] = DEFAULT_IOP_INSUFFICIENT_RATINGS
    # Discharges from IOP with these reasons document a failed prior IOP attempt.
    iop_failed_discharge_reasons: frozenset[str] = frozenset({"dropped_out"})
    # An unexpected positive screen while at IOP documents a relapse during the program.
    iop_relapse_on_unexpected_positive: bool = True
    # "Hours in the last 4 weeks" before a reassessment.
    review_hours_window_days: int = 28

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                raise InvalidValue(spec.name, "must not be negative")
        if any(m.hours < 0 for m in self.minimum_hours):
            raise InvalidValue("minimum_hours", "hours must not be negative")
        for dimension, rating in self.iop_insufficient_ratings:
            if dimension not in DIMENSIONS or not 0 <= rating <= MAX_RATING:
                raise InvalidValue(
                    "iop_insufficient_ratings", "maps dimensions d1..d6 to ratings 0..4"
                )

    def required_hours(self, level: str, age_group: str) -> float | None:
        """The weekly minimum at `level` for `age_group`, or None when the level has none."""
        for minimum in self.minimum_hours:
            if minimum.level == level and minimum.age_group == age_group:
                return minimum.hours
        return None

    def iop_insufficient_threshold(self, dimension: str) -> int | None:
        """The rating of `dimension` from which IOP is likely insufficient (None: no flag)."""
        return dict(self.iop_insufficient_ratings).get(dimension)

    def analytes_of(self, medication: str) -> frozenset[str]:
        """What a lab reports for `medication` (the medication itself when the map is silent)."""
        found = dict(self.medication_analytes).get(medication.lower())
        return frozenset(found) if found else frozenset({medication.lower()})

    def zone_or(self, default: str) -> str:
        return self.timezone or default

    def counts_as_structured(self, service: str) -> bool:
        return service in self.structured_services

    def needs_periodic_reassessment(self, level: str) -> bool:
        return level.startswith(self.reassessment_level_prefix)

    def screening_interval_days(self, days_since_admission: int) -> int:
        if days_since_admission < self.screening_early_period_days:
            return self.screening_days_early
        return self.screening_days_later

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, fit for an event field."""
        data: dict[str, Any] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name == "minimum_hours":
                value = [
                    {"level": m.level, "age_group": m.age_group, "hours": m.hours} for m in value
                ]
            elif spec.name == "iop_insufficient_ratings":
                value = dict(value)
            elif spec.name == "medication_analytes":
                value = {medication: sorted(analytes) for medication, analytes in value}
            elif isinstance(value, frozenset):
                value = sorted(value)
            data[spec.name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProgramPolicy:
        """The policy `data` describes; fields it leaves out keep their defaults."""
        known = {spec.name for spec in fields(cls)}
        unknown = sorted(set(data) - known - RETIRED_SETTINGS)
        if unknown:
            raise InvalidValue(unknown[0], "is not a program policy setting")
        values: dict[str, Any] = {k: v for k, v in data.items() if k not in RETIRED_SETTINGS}
        if "minimum_hours" in values:
            values["minimum_hours"] = tuple(
                MinimumHours(str(m["level"]), str(m["age_group"]), float(m["hours"]))
                for m in values["minimum_hours"]
            )
        if "medication_analytes" in values:
            values["medication_analytes"] = _analytes(values["medication_analytes"])
        for name in (
            "structured_services",
            "iop_levels",
            "iop_failed_discharge_reasons",
            "planned_discharge_reasons",
            "length_of_stay_levels",
        ):
            if name in values:
                values[name] = frozenset(values[name])
        if "iop_insufficient_ratings" in values:
            values["iop_insufficient_ratings"] = _ratings(values["iop_insufficient_ratings"])
        return replace(cls(), **values)


def _ratings(value: object) -> tuple[tuple[str, int], ...]:
    """`{"d6": 3}` (or pairs) as sorted (dimension, rating) pairs."""
    pairs: Any = value.items() if isinstance(value, Mapping) else value
    try:
        return tuple(sorted((str(d), int(r)) for d, r in pairs))
    except (TypeError, ValueError):
        raise InvalidValue(
            "iop_insufficient_ratings", "maps dimensions d1..d6 to ratings 0..4"
        ) from None


def _analytes(value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`{"buprenorphine": ["norbuprenorphine"]}` as sorted, lower-cased pairs."""
    if not isinstance(value, Mapping):
        raise InvalidValue("medication_analytes", "maps each medication to a list of analytes")
    pairs = []
    for medication, analytes in value.items():
        if not isinstance(analytes, list | tuple) or not all(isinstance(a, str) for a in analytes):
            raise InvalidValue("medication_analytes", "maps each medication to a list of analytes")
        pairs.append((str(medication).lower(), tuple(sorted(a.lower() for a in analytes))))
    return tuple(sorted(pairs))


DEFAULT_POLICY = ProgramPolicy()


@dataclass(frozen=True)
class PolicyTimeline:
    """The policy in force at each moment: `initial` until the first change, then each change
    from its `effective_from` on. Changes are kept in effective order."""

    initial: ProgramPolicy = DEFAULT_POLICY
    changes: tuple[tuple[datetime, ProgramPolicy], ...] = field(default=())

    def __post_init__(self) -> None:
        moments = [moment for moment, _ in self.changes]
        if any(m.tzinfo is None for m in moments):
            raise InvalidValue("effective_from", "must carry a UTC offset")
        if moments != sorted(moments):
            raise InvalidValue("effective_from", "policy changes must be in effective order")

    @classmethod
    def of(cls, policy: ProgramPolicy | PolicyTimeline) -> PolicyTimeline:
        """A timeline for either a single policy (in force at every moment) or a timeline."""
        return policy if isinstance(policy, PolicyTimeline) else cls(initial=policy)

    def with_zone(self, default: str) -> PolicyTimeline:
        """This timeline with `default` as the zone of every policy that sets none."""

        def zoned(policy: ProgramPolicy) -> ProgramPolicy:
            return policy if policy.timezone else replace(policy, timezone=default)

        return PolicyTimeline(zoned(self.initial), tuple((m, zoned(p)) for m, p in self.changes))

    def changed(self, effective_from: datetime, policy: ProgramPolicy) -> PolicyTimeline:
        """This timeline with `policy` in force from `effective_from` (not before the last)."""
        return PolicyTimeline(self.initial, (*self.changes, (effective_from, policy)))

    def at(self, moment: datetime) -> ProgramPolicy:
        """The policy in force at `moment` (a change applies from its own moment on)."""
        index = bisect_right([m for m, _ in self.changes], moment)
        return self.initial if index == 0 else self.changes[index - 1][1]
