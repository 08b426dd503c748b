"""The code systems and fixed codings of Continuum's FHIR R4 resources (docs/fhir.md lists them).

Standard systems where a standard code exists; Continuum's own closed vocabularies (service
types, modalities, ASAM levels and dimensions, event types) under `urn:continuum:` URNs, which
FHIR accepts as code system identifiers (R4 §2.1.0.1 "Using codes in resources": a system is
any URI).
"""

from __future__ import annotations

from typing import Any, Final

from api.feed.cloud_events import REDISCLOSURE_NOTICE, SECURITY_LABEL

ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LOINC: Final = "http://loinc.org"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DATA_ABSENT_REASON: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
SPECIMEN_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v2-0487"
CONSENT_SCOPE: Final = "http://terminology.hl7.org/CodeSystem/consentscope"
PARTICIPATION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
UCUM: Final = "http://unitsofmeasure.org"

# Continuum's own systems and identifiers.
PARTICIPANT_ID: Final = "urn:continuum:participant"
PROGRAM_ID: Final = "urn:continuum:program"
EPISODE_ID: Final = "urn:continuum:episode"  # value: <participant id>/<episode number>
RECIPIENT_ID: Final = "urn:continuum:recipient"
OBSERVATION_CODE: Final = "urn:continuum:codesystem:observation"
SERVICE_TYPE: Final = "urn:continuum:codesystem:service-type"
MODALITY: Final = "urn:continuum:codesystem:modality"
ASAM_LEVEL: Final = "urn:continuum:codesystem:asam-level"  # Coding.version: criteria edition
ASAM_DIMENSION: Final = "urn:continuum:codesystem:asam-dimension"
SUBSTANCE: Final = "urn:continuum:codesystem:substance"
SPECIMEN_VALIDITY: Final = "urn:continuum:codesystem:specimen-validity"
EVENT_TYPE: Final = "urn:continuum:codesystem:event-type"
DISCHARGE_REASON: Final = "urn:continuum:codesystem:discharge-reason"
LEVEL_HISTORY_EXTENSION: Final = "urn:continuum:fhir:extension:level-of-care-history"
DISCHARGE_REASON_EXTENSION: Final = "urn:continuum:fhir:extension:discharge-reason"
REDISCLOSURE_EXTENSION: Final = "urn:continuum:fhir:extension:redisclosure-notice"

# 42 CFR 2.32: every disclosed record carries the notice. The labels are HL7's (v3-ActCode):
# 42CFRPart2 names the policy, NORDSCLCD the obligation not to redisclose without consent.
SECURITY_LABELS: Final = (
    {"system": ACT_CODE, "code": SECURITY_LABEL, "display": "42 CFR Part2"},
    {
        "system": ACT_CODE,
        "code": "NORDSCLCD",
        "display": "no redisclosure without consent directive",
    },
)
PART2_POLICY_URI: Final = "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2"


def meta() -> dict[str, Any]:
    """The `meta` every resource carries: the Part 2 labels and the redisclosure notice."""
    return {
        "security": [dict(label) for label in SECURITY_LABELS],
        "extension": [{"url": REDISCLOSURE_EXTENSION, "valueString": REDISCLOSURE_NOTICE}],
    }


# Method-less urine presence terms (LOINC "PrThr:Pt:Urine:Ord"), which suit a program that
# reports screen and confirmation in one result. Other analytes and specimens carry only the
# Continuum substance code: no LOINC term is guessed.
URINE_LOINC: Final = {
    "amphetamines": ("3349-8", "Amphetamines [Presence] in Urine"),
    "cocaine": ("3393-6", "Benzoylecgonine [Presence] in Urine"),
    "thc": ("3427-2", "Cannabinoids [Presence] in Urine"),
}
# LOINC answer list LL360-9 (Positive/Negative).
RESULT_ANSWERS: Final = {
    "positive": {"system": LOINC, "code": "LA6576-8", "display": "Positive"},
    "negative": {"system": LOINC, "code": "LA6577-6", "display": "Negative"},
}
RESULT_INTERPRETATION: Final = {"positive": "POS", "negative": "NEG"}
SPECIMEN_TYPES: Final = {
    "urine": ("UR", "Urine"),
    "oral_fluid": ("SAL", "Saliva"),
    "breath": ("BRTH", "Breath"),
    "blood": ("BLD", "Whole blood"),
}
# A specimen with no results: why the value is absent.
ABSENT_BECAUSE: Final = {"refused": "asked-declined", "missed": "not-performed"}

# ASAM Criteria, 3rd edition (2013), the six assessment dimensions.
DIMENSION_NAMES: Final = {
    "d1": "Acute intoxication and/or withdrawal potential",
    "d2": "Biomedical conditions and complications",
    "d3": "Emotional, behavioral, or cognitive conditions and complications",
    "d4": "Readiness to change",
    "d5": "Relapse, continued use, or continued problem potential",
    "d6": "Recovery/living environment",
}


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def concept(*codings: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    return {"coding": list(codings), **({"text": text} if text else {})}
