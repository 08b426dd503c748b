"""Response and request shapes of the views: compliance, caseload, program policy."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from domain.errors import InvalidValue
from domain.values import AgeGroup, DischargeReason, ServiceType
from projections.caseload import CaseloadRow
from projections.compliance import ComplianceReport, WeekRow
from projections.compliance.cadence import Finding

# ---- compliance -------------------------------------------------------------------------------


class WeekBody(BaseModel):
    week_start: date
    level: str
    structured_hours: float
    structured_minutes: int
    required_hours: float
    status: str  # met | below_minimum | partial_week | taper | in_progress
    episode: int
    evidence: list[str]

    @classmethod
    def of(cls, week: WeekRow) -> WeekBody:
        return cls(**week.to_dict())


class FindingBody(BaseModel):
    rule: str
    status: str  # open | resolved | unresolved_at_discharge
    due: date | None
    period: date | None
    evidence: list[str]
    episode: int
    opened_on: date
    resolved_on: date | None
    overdue: bool

    @classmethod
    def of(cls, finding: Finding) -> FindingBody:
        return cls(**finding.to_dict())


class ComplianceView(BaseModel):
    participant_id: str
    as_of: date
    timezone: str  # the IANA zone the days and weeks were counted in
    position: int  # the log position the views had reached when read
    weeks: list[WeekBody]
    findings: list[FindingBody]

    @classmethod
    def of(cls, report: ComplianceReport, position: int) -> ComplianceView:
        return cls(
            participant_id=report.participant_id,
            as_of=report.as_of,
            timezone=report.timezone,
            position=position,
            weeks=[WeekBody.of(w) for w in report.weeks],
            findings=[FindingBody.of(f) for f in report.findings],
        )


# ---- caseload ---------------------------------------------------------------------------------


class CaseloadRowBody(BaseModel):
    participant_id: str
    program_id: str
    status: str
    level: str | None
    level_since: datetime | None
    age_group: str | None
    episode: int
    weeks_in_program: int
    days_in_program: int
    open_findings: int

    @classmethod
    def of(cls, row: CaseloadRow) -> CaseloadRowBody:
        return cls(**row.to_dict())


class CaseloadView(BaseModel):
    as_of: date
    position: int
    participants: list[CaseloadRowBody]


# ---- program policy ---------------------------------------------------------------------------


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as America/Chicago") from None
    return name


Days = Annotated[StrictInt, Field(ge=0, le=3650)]
Analyte = Annotated[StrictStr, Field(min_length=1, max_length=64)]
Analytes = Annotated[list[Analyte], Field(max_length=20)]


class MinimumHoursBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Annotated[StrictStr, Field(min_length=1, max_length=16)]
    age_group: AgeGroup
    hours: Annotated[StrictFloat | StrictInt, Field(ge=0, le=168)]


class PolicyChangeRequest(BaseModel):
    """Any subset of the program policy's settings; the rest keep their current values."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    minimum_hours: list[MinimumHoursBody] | None = None
    structured_services: list[ServiceType] | None = None
    taper_weeks: Days | None = None
    individual_therapy_days: Days | None = None
    screening_days_early: Days | None = None
    screening_early_period_days: Days | None = None
    screening_days_later: Days | None = None
    reassessment_days: Days | None = None
    reassessment_level_prefix: Annotated[StrictStr, Field(max_length=16)] | None = None
    level_change_reassessment_days: Days | None = None
    attendance_gap_days: Days | None = None
    positive_screen_followup_days: Days | None = None
    length_of_stay_weeks: Annotated[StrictInt, Field(ge=0, le=520)] | None = None
    length_of_stay_reassessment_days: Days | None = None
    discharge_summary_days: Days | None = None
    discharge_reassessment_days: Days | None = None
    planned_discharge_reasons: list[DischargeReason] | None = None
    length_of_stay_levels: list[Annotated[StrictStr, Field(max_length=16)]] | None = Field(
        default=None, max_length=20
    )
    medication_analytes: dict[Analyte, Analytes] | None = Field(default=None, max_length=50)
    recertification_days: Days | None = None
    timezone: Annotated[StrictStr, AfterValidator(_known_zone)] | None = None

    def settings(self) -> dict[str, Any]:
        """Only the settings the caller sent (an explicit null is sent, e.g. recertification)."""
        sent = self.model_dump(exclude_unset=True)
        for name, value in sent.items():
            if value is None and name != "recertification_days":
                raise InvalidValue(name, "must not be null")
        return sent


class PolicyChangeBody(BaseModel):
    effective_from: datetime
    policy: dict[str, Any]


class PolicyView(BaseModel):
    program_id: str
    policy: dict[str, Any]  # in force now
    history: list[PolicyChangeBody]  # every recorded change, oldest first


class PolicyReceipt(BaseModel):
    program_id: str
    version: int
    position: int
    effective_from: datetime
    policy: dict[str, Any]
