"""The recording forms: which fields each shows, how its values become the API's request body,
and how a refusal becomes a message next to the field it concerns.

The body is validated by the API's own pydantic request models (api.schemas.participants), so a form
refuses exactly what the API refuses, with the same messages and field names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from api.pages.model import SERVICE_LABELS, level_choices
from api.schemas.participants import (
    DischargeRequest,
    LevelChangeRequest,
    ReassessmentRequest,
    RecordRequest,
    ScreeningRequest,
    SessionRequest,
)
from api.schemas.records import (
    DischargeSummaryRequest,
    PrescriptionRequest,
    RecertificationRequest,
)
from domain.errors import DomainError, IdempotencyKeyReused, InvalidValue
from domain.values import DIMENSIONS, DischargeReason, Modality, Specimen, SpecimenStatus
from projections.weeks import zone

Options = tuple[tuple[str, str], ...]
# Substances offered on the screening form (a urine panel plus common medications).
SUBSTANCES = (
    "alcohol",
    "amphetamines",
    "benzodiazepines",
    "buprenorphine",
    "cocaine",
    "fentanyl",
    "methadone",
    "opiates",
    "thc",
)
RESULT_OPTIONS: Options = (("", "not tested"), ("negative", "negative"), ("positive", "positive"))
RATING_OPTIONS: Options = tuple((str(n), str(n)) for n in range(5))
DIMENSION_LABELS = {
    "d1": "D1 Intoxication and withdrawal",
    "d2": "D2 Biomedical conditions",
    "d3": "D3 Emotional, behavioural or cognitive conditions",
    "d4": "D4 Readiness to change",
    "d5": "D5 Relapse or continued use potential",
    "d6": "D6 Recovery environment",
}


def _enum_options(values: Any, blank: str | None = None) -> Options:
    options = tuple((v.value, v.value.replace("_", " ")) for v in values)
    return ((("", blank),) if blank is not None else ()) + options


@dataclass(frozen=True)
class Field:
    """One input; `name` is the API field path (`dimensions.d1`, `results.cocaine`)."""

    name: str
    label: str
    kind: str  # select | radio | datetime | date | number | text | textarea | checkbox
    options: Options = ()
    required: bool = True
    hint: str | None = None
    group: str | None = None  # fields of a group share a fieldset (its legend: the group label)
    minimum: int | None = None
    maximum: int | None = None

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-").replace("_", "-")


@dataclass(frozen=True)
class FormSpec:
    slug: str
    title: str
    button: str
    model: type[RecordRequest]  # validates the form's values and builds the command
    time_field: str  # where a refusal about the entry's time is shown
    fields: tuple[Field, ...]
    groups: Mapping[str, str] = field(default_factory=dict)  # group name -> legend

    def grouped(self) -> list[tuple[str | None, list[Field]]]:
        """Fields in order, consecutive fields of one group together."""
        out: list[tuple[str | None, list[Field]]] = []
        for f in self.fields:
            if out and f.group is not None and out[-1][0] == f.group:
                out[-1][1].append(f)
            else:
                out.append((f.group, [f]))
        return out


_LEVELS: Options = tuple(level_choices())

FORMS: dict[str, FormSpec] = {
    spec.slug: spec
    for spec in (
        FormSpec(
            slug="session",
            title="Record a session",
            button="Record session",
            model=SessionRequest,
            time_field="started_at",
            fields=(
                Field(
                    "attended",
                    "Attendance",
                    "radio",
                    (("true", "Attended"), ("false", "Missed")),
                ),
                Field("service", "Service", "select", tuple(SERVICE_LABELS.items())),
                Field("started_at", "Started at", "datetime"),
                Field(
                    "duration_minutes",
                    "Duration (minutes)",
                    "number",
                    minimum=1,
                    maximum=1439,
                    hint="Scheduled length; a missed session keeps its planned length.",
                ),
                Field("modality", "Modality", "select", _enum_options(Modality, "none"), False),
                Field("track", "Track", "text", required=False, hint="e.g. morning, evening"),
            ),
        ),
        FormSpec(
            slug="screening",
            title="Record a screening",
            button="Record screening",
            model=ScreeningRequest,
            time_field="collected_at",
            fields=(
                Field("collected_at", "Collected at", "datetime"),
                Field("specimen", "Specimen", "select", _enum_options(Specimen)),
                Field("status", "Specimen status", "select", _enum_options(SpecimenStatus)),
                *(
                    Field(f"results.{s}", s, "select", RESULT_OPTIONS, False, group="results")
                    for s in SUBSTANCES
                ),
                *(
                    Field(f"prescribed.{s}", s, "checkbox", required=False, group="prescribed")
                    for s in SUBSTANCES
                ),
            ),
            groups={
                "results": "Results by substance",
                "prescribed": "Prescribed (a positive result for these is expected)",
            },
        ),
        FormSpec(
            slug="reassessment",
            title="Record a reassessment",
            button="Record reassessment",
            model=ReassessmentRequest,
            time_field="assessed_at",
            fields=(
                Field("assessed_at", "Assessed at", "datetime"),
                *(
                    Field(
                        f"dimensions.{d}",
                        DIMENSION_LABELS[d],
                        "select",
                        RATING_OPTIONS,
                        group="dimensions",
                    )
                    for d in DIMENSIONS
                ),
                Field("recommended_level", "Recommended level", "select", _LEVELS),
                Field("decided_level", "Decided level", "select", _LEVELS),
                Field("rationale", "Rationale", "textarea"),
            ),
            groups={"dimensions": "Dimension ratings (0 none to 4 severe)"},
        ),
        FormSpec(
            slug="level-change",
            title="Change the level of care",
            button="Record level change",
            model=LevelChangeRequest,
            time_field="effective_at",
            fields=(
                Field("to_level", "New level", "select", _LEVELS),
                Field("effective_at", "Effective at", "datetime"),
                Field("reason", "Reason", "textarea"),
            ),
        ),
        FormSpec(
            slug="discharge",
            title="Discharge",
            button="Record discharge",
            model=DischargeRequest,
            time_field="discharged_at",
            fields=(
                Field("discharged_at", "Discharged at", "datetime"),
                Field("reason", "Reason", "select", _enum_options(DischargeReason)),
                Field(
                    "to_level",
                    "Referred to level",
                    "select",
                    (("", "none"), *_LEVELS),
                    required=False,
                ),
            ),
        ),
        FormSpec(
            slug="prescription",
            title="Record a prescription",
            button="Record prescription",
            model=PrescriptionRequest,
            time_field="started_on",
            fields=(
                Field("medication", "Medication", "text", hint="e.g. buprenorphine, methadone"),
                Field("started_on", "Started on", "date"),
                Field("ended_on", "Ended on", "date", required=False),
            ),
        ),
        FormSpec(
            slug="recertification",
            title="Record a recertification",
            button="Record recertification",
            model=RecertificationRequest,
            time_field="certified_at",
            fields=(
                Field("certified_at", "Certified at", "datetime"),
                Field("note", "Note", "textarea", required=False),
            ),
        ),
        FormSpec(
            slug="discharge-summary",
            title="Record the discharge summary",
            button="Record discharge summary",
            model=DischargeSummaryRequest,
            time_field="completed_at",
            fields=(
                Field("completed_at", "Completed at", "datetime"),
                Field("text", "Summary", "textarea", required=False),
            ),
        ),
    )
}

# Refusals about when an entry happened are shown at the form's time field.
_TIME_RULES = frozenset({"before_admission", "after_discharge", "in_the_future"})
_RULE_FIELDS = {"same_level": "to_level"}

FormValues = dict[str, str]


def form_values(data: Mapping[str, Any], spec: FormSpec) -> FormValues:
    """The submitted text of each field (a checkbox: "on" when ticked)."""
    values: FormValues = {}
    for f in spec.fields:
        raw = data.get(f.name)
        if isinstance(raw, str):
            values[f.name] = raw[:10_000]
    return values


def _instant(text: str, tz: str) -> object:
    """`2026-03-02T09:00` (a datetime-local input) in the program's zone, as ISO with offset.
    Unparseable text is passed on as is: the request model then names the field."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(tz))
    return moment.isoformat()


def _number(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        return text  # strict int refuses it, naming the field


def request_body(spec: FormSpec, values: FormValues, tz: str) -> dict[str, Any]:
    """The API request body the form's values spell (blank optional fields left out)."""
    body: dict[str, Any] = {}
    for f in spec.fields:
        text = values.get(f.name, "").strip()
        if f.group == "prescribed":
            if text:
                body.setdefault("prescribed", []).append(f.name.split(".", 1)[1])
            continue
        if f.group == "results":
            body.setdefault("results", {})
            if text:
                body["results"][f.name.split(".", 1)[1]] = text
            continue
        if not text:
            if f.required and f.kind in {"text", "textarea"}:
                body[f.name] = ""  # present but empty: the domain names the field
            continue
        value: object = text
        if f.kind == "datetime":
            value = _instant(text, tz)
        elif f.kind == "number" or f.group == "dimensions":
            value = _number(text)
        elif f.kind == "radio" and f.name == "attended":
            value = {"true": True, "false": False}.get(text, text)
        if "." in f.name:
            outer, inner = f.name.split(".", 1)
            body.setdefault(outer, {})[inner] = value
        else:
            body[f.name] = value
    return body


def validation_errors(error: ValidationError) -> dict[str, str]:
    """Field path -> message, as the API's 422 names them (first message per field)."""
    errors: dict[str, str] = {}
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ())]
        name = ".".join(loc) or "form"
        errors.setdefault(name, str(item.get("msg", "invalid")))
    return errors


def domain_errors(spec: FormSpec, error: DomainError) -> dict[str, str]:
    """Where a refusal of the application is shown: its field, or the form as a whole."""
    if isinstance(error, IdempotencyKeyReused):
        return {"form": "This form was already submitted with other values; reload it first."}
    if isinstance(error, InvalidValue):
        detail = error.detail.removeprefix(f"{error.field}: ")
        return {error.field: detail}
    if error.rule in _TIME_RULES:
        return {spec.time_field: error.detail}
    if error.rule in _RULE_FIELDS:
        return {_RULE_FIELDS[error.rule]: error.detail}
    return {"form": error.detail}


def placed(spec: FormSpec, errors: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Errors split into those shown at a field (or group) and those only in the summary."""
    anchors = {f.name for f in spec.fields} | set(spec.groups)
    at_field = {k: v for k, v in errors.items() if k in anchors}
    general = [v if k == "form" else f"{k}: {v}" for k, v in errors.items() if k not in anchors]
    return at_field, general


def anchor_of(spec: FormSpec, name: str) -> str:
    """The id an error summary links to: the field's input, or the group's fieldset."""
    for f in spec.fields:
        if f.name == name:
            return f.id
    return "g-" + name
