"""GET /v1/participants/{id}/fhir: the record as a FHIR R4 Bundle, decoded with fhir.resources."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle

from api.fhir import codes
from tests.e2e.feed_support import RECIPIENT, auditor, clinician, grant, integrator, revoke
from tests.e2e.support import (
    ADMITTED_AT,
    days_after_admission,
    iso,
    level_change,
    post,
    reassessment,
    screening,
    session,
)

PART2 = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "42CFRPart2"}


def _bundle(client: TestClient, participant: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/v1/participants/{participant}/fhir", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert "42 CFR part 2" in response.headers["Part2-Redisclosure-Notice"]
    body: dict[str, Any] = response.json()
    Bundle.model_validate(body)  # every entry validates against the R4 models
    return body


def _of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _codes(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept["coding"]}


def _component(observation: dict[str, Any], system: str, code: str) -> dict[str, Any]:
    (found,) = [c for c in observation["component"] if (system, code) in _codes(c["code"])]
    component: dict[str, Any] = found
    return component


def test_the_bundle_holds_each_entry_with_its_codes_and_periods(
    client: TestClient, participant: str
) -> None:
    """Given a participant with a step-down, a session, a screening (later entered in error),
    a reassessment and a consent, the bundle has one resource for each, with the right codes,
    periods and references, and every resource carries the 42CFRPart2 label."""
    session_id = post(client, participant, "sessions", session()).json()["event_id"]
    screening_id = post(client, participant, "screenings", screening()).json()["event_id"]
    post(client, participant, "corrections", {"event_id": screening_id, "reason": "Wrong person."})
    step = level_change(to_level="1", effective_at=days_after_admission(14))
    assert post(client, participant, "level-changes", step).status_code == 201
    reassessed = post(client, participant, "reassessments", reassessment(decided_level="1"))
    assert reassessed.status_code == 201, reassessed.text
    consent_id = grant(client, participant, scope=["SessionAttended"]).json()["consent_id"]

    bundle = _bundle(client, participant, clinician())
    assert bundle["type"] == "collection"
    for entry in bundle["entry"]:
        assert PART2 in [
            {"system": s["system"], "code": s["code"]}
            for s in entry["resource"]["meta"]["security"]
        ]
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"

    (patient,) = _of_type(bundle, "Patient")
    assert patient["id"] == participant and set(patient) <= {
        "resourceType", "id", "meta", "identifier", "active"
    }  # fmt: skip
    (episode,) = _of_type(bundle, "EpisodeOfCare")
    assert episode["status"] == "active"
    assert episode["identifier"] == [{"system": codes.EPISODE_ID, "value": f"{participant}/1"}]
    assert episode["period"] == {"start": iso(ADMITTED_AT)}
    assert episode["managingOrganization"]["identifier"]["value"] == "riverside-iop"
    history = [
        {x["url"]: x for x in extension["extension"]}
        for extension in episode["extension"]
        if extension["url"] == codes.LEVEL_HISTORY_EXTENSION
    ]
    assert [(h["level"]["valueCoding"]["code"], h["change"]["valueCode"]) for h in history] == [
        ("2.1", "admission"),
        ("1", "step_down"),
    ]
    assert history[0]["period"]["valuePeriod"] == {
        "start": iso(ADMITTED_AT),
        "end": days_after_admission(14),
    }

    (encounter,) = _of_type(bundle, "Encounter")
    assert encounter["id"] == session_id and encounter["status"] == "finished"
    assert encounter["period"] == {
        "start": days_after_admission(1),
        "end": days_after_admission(1, hours=3),
    }
    assert _codes(encounter["serviceType"]) == {(codes.SERVICE_TYPE, "group")}
    assert encounter["class"]["code"] == "AMB"
    assert encounter["episodeOfCare"] == [{"reference": f"urn:uuid:{episode['id']}"}]

    screen, review = _of_type(bundle, "Observation")
    assert screen["id"] == screening_id and screen["status"] == "entered-in-error"
    assert screen["effectiveDateTime"] == days_after_admission(7)
    cocaine = _component(screen, codes.LOINC, "3393-6")
    assert _codes(cocaine["valueCodeableConcept"]) == {(codes.LOINC, "LA6577-6")}  # negative
    validity = _component(screen, codes.OBSERVATION_CODE, "specimen-validity")
    assert _codes(validity["valueCodeableConcept"]) == {(codes.SPECIMEN_VALIDITY, "valid")}
    buprenorphine = _component(screen, codes.SUBSTANCE, "buprenorphine")
    assert buprenorphine["interpretation"][0]["text"] == "prescribed"

    assert review["status"] == "final"
    assert review["effectiveDateTime"] == days_after_admission(28)
    assert _component(review, codes.ASAM_DIMENSION, "d3")["valueInteger"] == 2
    decided = _component(review, codes.OBSERVATION_CODE, "decided-level")
    assert decided["valueCodeableConcept"]["coding"][0]["code"] == "1"
    edition = _component(review, codes.OBSERVATION_CODE, "criteria-edition")
    assert edition["valueString"] == "3"

    (consent,) = _of_type(bundle, "Consent")
    assert consent["id"] == consent_id and consent["status"] == "active"
    assert consent["provision"]["actor"][0]["reference"]["identifier"]["value"] == RECIPIENT
    assert _codes(consent["provision"]["code"][0]) == {(codes.EVENT_TYPE, "SessionAttended")}
    revoke(client, participant, consent_id)
    (revoked,) = _of_type(_bundle(client, participant, auditor()), "Consent")
    assert revoked["status"] == "inactive"


def test_an_integrator_sees_only_what_a_consent_covers(
    client: TestClient, participant: str
) -> None:
    """Without a consent an integrator gets nothing (404, as if missing); with a consent scoped
    to sessions it gets the Patient and the sessions only, no consents, and the disclosure is in
    the disclosure log on the `fhir` channel with exactly the event ids sent."""
    session_id = post(client, participant, "sessions", session()).json()["event_id"]
    assert post(client, participant, "screenings", screening()).status_code == 201

    refused = client.get(f"/v1/participants/{participant}/fhir", headers=integrator())
    assert refused.status_code == 404
    assert "Patient" not in refused.text
    assert client.get("/v1/audit/disclosures", headers=auditor()).json()["disclosures"] == []

    assert grant(client, participant, scope=["SessionAttended"]).status_code == 201
    bundle = _bundle(client, participant, integrator())
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Patient", "Encounter"]
    other = client.get(f"/v1/participants/{participant}/fhir", headers=integrator("someone-else"))
    assert other.status_code == 404

    (row,) = client.get("/v1/audit/disclosures", headers=auditor()).json()["disclosures"]
    assert (row["recipient"], row["channel"], row["event_ids"]) == (RECIPIENT, "fhir", [session_id])


def test_clinicians_of_another_program_get_404(client: TestClient, participant: str) -> None:
    """A clinician not scoped to the participant's program sees no bundle (404)."""
    response = client.get(f"/v1/participants/{participant}/fhir", headers=clinician("harbor-php"))
    assert response.status_code == 404
