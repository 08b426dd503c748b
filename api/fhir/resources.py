"""A participant's record as FHIR R4 resources: pure functions of the participant's events.

- `Patient`: the participant's id only (Continuum holds no demographics);
- `EpisodeOfCare` per admission: status, statusHistory, period, the program as managing
  organization, the level-of-care history (an extension: R4 has no element for it);
- `Encounter` per attended session: period (start + duration), service type, modality, class
  by the level of care then in force, the episode;
- `Observation` per screening (a component per analyte, specimen validity, a contained
  `Specimen`) and per reassessment (the six dimension ratings, recommended and decided level,
  criteria edition);
- `Consent` per Part 2 consent (given separately: consents are aggregates of their own).

An entry marked entered-in-error keeps its resource with status `entered-in-error`. Every
resource carries the Part 2 security labels and the redisclosure notice (`codes.meta`).
Resource ids are the event ids (stable across replays), the participant id and consent ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from api.fhir import codes
from api.fhir.codes import coding, concept, meta
from domain.levels import LevelOfCare
from domain.participant import Participant

Resource = dict[str, Any]
# How one resource names another: `urn:uuid:<id>` inside a Bundle (its entries' fullUrl),
# `Type/<id>` in bulk NDJSON files, where no Bundle gives the ids a base.
Reference = Callable[[str, str], str]


def bundle_reference(resource_type: str, resource_id: str) -> str:
    return f"urn:uuid:{resource_id}"


def relative_reference(resource_type: str, resource_id: str) -> str:
    return f"{resource_type}/{resource_id}"


class ConsentRecord(Protocol):
    """What the mapping reads of a consent (domain.consent.Consent has it)."""

    @property
    def id(self) -> UUID: ...
    @property
    def recipient_id(self) -> str: ...
    @property
    def scope(self) -> Sequence[str]: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def signed_at(self) -> datetime: ...
    @property
    def revoked_at(self) -> datetime | None: ...


@dataclass
class _LevelSpan:
    level: LevelOfCare
    start: datetime
    change: str  # admission, step_down, step_up
    end: datetime | None = None


@dataclass
class _Episode:
    event_id: str
    number: int
    program_id: str
    start: datetime
    levels: list[_LevelSpan] = field(default_factory=list)
    end: datetime | None = None
    discharge_reason: str | None = None

    def level_at(self, moment: datetime) -> LevelOfCare:
        for span in reversed(self.levels):
            if span.start <= moment:
                return span.level
        return self.levels[0].level


def participant_resources(
    participant_id: UUID,
    events: Iterable[Participant.Event],
    consents: Sequence[ConsentRecord] = (),
    *,
    now: datetime | None = None,
    reference: Reference = bundle_reference,
) -> list[Resource]:
    """Every resource of the participant's record, Patient first, then in recorded order.

    `now` decides which consents have expired (status `inactive`); None: only revocations do.
    """
    patient_id = str(participant_id)
    events = list(events)
    corrected = {
        str(e.corrected_event_id) for e in events if isinstance(e, Participant.EntryCorrected)
    }
    patient = {"reference": reference("Patient", patient_id)}
    episodes: list[_Episode] = []
    entries: list[Resource] = []
    for event in events:
        event_id = str(event.event_id)
        if isinstance(event, Participant.Admitted):
            level = LevelOfCare.parse(event.level, event.criteria_edition)
            episode = _Episode(event_id, event.episode, event.program_id, event.occurred_at)
            episode.levels.append(_LevelSpan(level, event.occurred_at, "admission"))
            episodes.append(episode)
        elif isinstance(event, Participant.LevelChanged) and episodes:
            _change_level(episodes[-1], event)
        elif isinstance(event, Participant.Discharged) and episodes:
            episodes[-1].end = event.occurred_at
            episodes[-1].levels[-1].end = event.occurred_at
            episodes[-1].discharge_reason = event.reason
        elif isinstance(event, Participant.SessionAttended):
            episode_of = episodes[-1] if episodes else None
            entries.append(_encounter(event, patient, episode_of, corrected, reference))
        elif isinstance(event, Participant.ScreeningResultRecorded):
            entries.append(_screening(event, patient, corrected))
        elif isinstance(event, Participant.Reassessed):
            entries.append(_reassessment(event, patient, corrected))
    active = bool(episodes) and episodes[-1].end is None
    return [
        _patient(patient_id, active),
        *(_episode_of_care(e, patient_id, patient) for e in episodes),
        *entries,
        *(_consent(c, patient, now) for c in consents),
    ]


def _change_level(episode: _Episode, event: Participant.LevelChanged) -> None:
    episode.levels[-1].end = event.occurred_at
    change = "step_down" if isinstance(event, Participant.SteppedDown) else "step_up"
    level = LevelOfCare.parse(event.to_level, event.criteria_edition)
    episode.levels.append(_LevelSpan(level, event.occurred_at, change))


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _period(start: datetime, end: datetime | None) -> dict[str, str]:
    return {"start": _instant(start), **({"end": _instant(end)} if end else {})}


def _level_coding(level: LevelOfCare) -> dict[str, Any]:
    return {**coding(codes.ASAM_LEVEL, level.code, level.name), "version": level.edition.value}


def _patient(patient_id: str, active: bool) -> Resource:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "meta": meta(),
        "identifier": [{"system": codes.PARTICIPANT_ID, "value": patient_id}],
        "active": active,
    }


def _episode_of_care(episode: _Episode, patient_id: str, patient: dict[str, str]) -> Resource:
    history: list[dict[str, Any]] = [
        {
            "url": codes.LEVEL_HISTORY_EXTENSION,
            "extension": [
                {"url": "level", "valueCoding": _level_coding(span.level)},
                {"url": "period", "valuePeriod": _period(span.start, span.end)},
                {"url": "change", "valueCode": span.change},
            ],
        }
        for span in episode.levels
    ]
    if episode.discharge_reason is not None:
        history.append(
            {
                "url": codes.DISCHARGE_REASON_EXTENSION,
                "valueCoding": coding(codes.DISCHARGE_REASON, episode.discharge_reason),
            }
        )
    resource: Resource = {
        "resourceType": "EpisodeOfCare",
        "id": episode.event_id,
        "meta": meta(),
        "extension": history,
        "identifier": [{"system": codes.EPISODE_ID, "value": f"{patient_id}/{episode.number}"}],
        "status": "finished" if episode.end else "active",
        "type": [concept(_level_coding(episode.levels[-1].level), text="level of care")],
        "patient": patient,
        "managingOrganization": {
            "identifier": {"system": codes.PROGRAM_ID, "value": episode.program_id},
            "display": episode.program_id,
        },
        "period": _period(episode.start, episode.end),
    }
    if episode.end:  # statusHistory holds past statuses only (R4 EpisodeOfCare.statusHistory)
        resource["statusHistory"] = [
            {"status": "active", "period": _period(episode.start, episode.end)}
        ]
    return resource


def _status(event: Participant.Event, corrected: set[str], normal: str) -> str:
    return "entered-in-error" if str(event.event_id) in corrected else normal


def _encounter(
    event: Participant.SessionAttended,
    patient: dict[str, str],
    episode: _Episode | None,
    corrected: set[str],
    reference: Reference,
) -> Resource:
    end = event.occurred_at + timedelta(minutes=event.duration_minutes)
    level = episode.level_at(event.occurred_at) if episode else None
    resource: Resource = {
        "resourceType": "Encounter",
        "id": str(event.event_id),
        "meta": meta(),
        "status": _status(event, corrected, "finished"),
        "class": _encounter_class(level),
        "serviceType": concept(coding(codes.SERVICE_TYPE, event.service), text=event.service),
        "subject": patient,
        "period": _period(event.occurred_at, end),
        "length": {
            "value": event.duration_minutes,
            "unit": "min",
            "system": codes.UCUM,
            "code": "min",
        },
    }
    if event.modality:
        resource["type"] = [concept(coding(codes.MODALITY, event.modality))]
    if episode is not None:
        resource["episodeOfCare"] = [{"reference": reference("EpisodeOfCare", episode.event_id)}]
    return resource


def _encounter_class(level: LevelOfCare | None) -> dict[str, Any]:
    """v3 ActEncounterCode by level: residential is inpatient non-acute, level 4 inpatient."""
    if level is not None and level.is_inpatient:
        return coding(codes.ACT_CODE, "IMP", "inpatient encounter")
    if level is not None and level.is_residential:
        return coding(codes.ACT_CODE, "NONAC", "inpatient non-acute")
    return coding(codes.ACT_CODE, "AMB", "ambulatory")


def _observation(
    event: Participant.Event, patient: dict[str, str], corrected: set[str], category: str
) -> Resource:
    return {
        "resourceType": "Observation",
        "id": str(event.event_id),
        "meta": meta(),
        "status": _status(event, corrected, "final"),
        "category": [concept(coding(codes.OBSERVATION_CATEGORY, category))],
        "subject": patient,
        "effectiveDateTime": _instant(event.occurred_at),
        "issued": _instant(event.recorded_at),
    }


def _screening(
    event: Participant.ScreeningResultRecorded, patient: dict[str, str], corrected: set[str]
) -> Resource:
    resource = _observation(event, patient, corrected, "laboratory")
    specimen_code, specimen_name = codes.SPECIMEN_TYPES[event.specimen]
    resource["code"] = concept(
        coding(codes.OBSERVATION_CODE, "drug-screen", "Drug screen"), text="drug screen"
    )
    resource["contained"] = [
        {
            "resourceType": "Specimen",
            "id": "specimen",
            "meta": meta(),
            "type": concept(coding(codes.SPECIMEN_TYPE, specimen_code, specimen_name)),
        }
    ]
    resource["specimen"] = {"reference": "#specimen"}
    validity = {
        "code": concept(coding(codes.OBSERVATION_CODE, "specimen-validity", "Specimen validity")),
        "valueCodeableConcept": concept(coding(codes.SPECIMEN_VALIDITY, event.status)),
    }
    prescribed = set(event.prescribed)
    analytes = [
        _analyte(name, result, event.specimen, name in prescribed)
        for name, result in sorted(event.results.items())
    ]
    resource["component"] = [validity, *analytes]
    if event.status in codes.ABSENT_BECAUSE:
        resource["dataAbsentReason"] = concept(
            coding(codes.DATA_ABSENT_REASON, codes.ABSENT_BECAUSE[event.status])
        )
    return resource


def _analyte(name: str, result: str, specimen: str, prescribed: bool) -> Resource:
    loinc = codes.URINE_LOINC.get(name) if specimen == "urine" else None
    codings = [coding(codes.LOINC, *loinc)] if loinc else []
    codings.append(coding(codes.SUBSTANCE, name))
    interpretation = coding(codes.INTERPRETATION, codes.RESULT_INTERPRETATION[result])
    note = "prescribed" if prescribed else None
    return {
        "code": concept(*codings, text=name),
        "valueCodeableConcept": concept(dict(codes.RESULT_ANSWERS[result])),
        "interpretation": [concept(interpretation, text=note)],
    }


def _reassessment(
    event: Participant.Reassessed, patient: dict[str, str], corrected: set[str]
) -> Resource:
    resource = _observation(event, patient, corrected, "survey")
    resource["code"] = concept(
        coding(codes.OBSERVATION_CODE, "asam-reassessment", "ASAM multidimensional reassessment"),
        text="ASAM reassessment",
    )
    edition = event.criteria_edition
    ratings = [
        {
            "code": concept(coding(codes.ASAM_DIMENSION, name, codes.DIMENSION_NAMES[name])),
            "valueInteger": rating,
        }
        for name, rating in sorted(event.dimensions.items())
    ]
    levels = [
        {
            "code": concept(coding(codes.OBSERVATION_CODE, role, label)),
            "valueCodeableConcept": concept(_level_coding(LevelOfCare.parse(code, edition))),
        }
        for role, label, code in (
            ("recommended-level", "Recommended level of care", event.recommended_level),
            ("decided-level", "Decided level of care", event.decided_level),
        )
    ]
    criteria = {
        "code": concept(coding(codes.OBSERVATION_CODE, "criteria-edition", "ASAM edition")),
        "valueString": edition,
    }
    resource["component"] = [*ratings, *levels, criteria]
    if event.rationale.strip():
        resource["note"] = [{"text": event.rationale}]
    return resource


def _consent(consent: ConsentRecord, patient: dict[str, str], now: datetime | None) -> Resource:
    end = consent.expires_at
    if consent.revoked_at is not None and consent.revoked_at < end:
        end = consent.revoked_at
    ended = consent.revoked_at is not None or (now is not None and now >= consent.expires_at)
    scope = [concept(coding(codes.EVENT_TYPE, kind)) for kind in consent.scope]
    return {
        "resourceType": "Consent",
        "id": str(consent.id),
        "meta": meta(),
        "status": "inactive" if ended else "active",
        "scope": concept(coding(codes.CONSENT_SCOPE, "patient-privacy", "Privacy Consent")),
        "category": [concept(coding(codes.LOINC, "59284-0", "Patient Consent"))],
        "patient": patient,
        "dateTime": _instant(consent.signed_at),
        "policy": [{"authority": "https://www.ecfr.gov", "uri": codes.PART2_POLICY_URI}],
        "provision": {
            "type": "permit",
            "period": _period(consent.signed_at, end),
            "actor": [
                {
                    "role": concept(
                        coding(codes.PARTICIPATION_TYPE, "IRCP", "information recipient")
                    ),
                    "reference": {
                        "identifier": {"system": codes.RECIPIENT_ID, "value": consent.recipient_id}
                    },
                }
            ],
            "code": scope,
        },
    }


def consented_events(
    events: Iterable[Participant.Event], permits: Callable[[str], bool]
) -> list[Participant.Event]:
    """The events a recipient may receive, `permits(kind)` deciding by kind of event; a
    correction goes with the entry it corrects, as on the feed."""
    events = list(events)
    kinds = {str(e.event_id): type(e).__name__ for e in events}
    return [
        event
        for event in events
        if permits(type(event).__name__)
        or (
            isinstance(event, Participant.EntryCorrected)
            and permits(kinds.get(str(event.corrected_event_id), ""))
        )
    ]
