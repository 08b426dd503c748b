"""Every FHIR resource of the demo cohort validates against the R4 models (fhir.resources R4B),
and `continuum export --format fhir-ndjson` writes them as the Bulk Data IG lays them out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from api.cli.main import main as cli_main
from api.fhir.bundle import collection_bundle
from api.fhir.resources import participant_resources, relative_reference
from api.seed.demo import load_demo_cohort
from api.storage.store_url import parse_store_url
from domain.application import ContinuumApplication

TODAY = date(2026, 3, 18)
NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)
PART2 = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "code": "42CFRPart2",
    "display": "42 CFR Part2",
}
# fhir.resources checks structure and types, not required code bindings: the statuses are
# checked here against the R4 value sets (all bound `required`).
STATUSES = {
    "EpisodeOfCare": {"planned", "waitlist", "active", "onhold", "finished", "cancelled",
                      "entered-in-error"},
    "Encounter": {"planned", "arrived", "triaged", "in-progress", "onleave", "finished",
                  "cancelled", "entered-in-error", "unknown"},
    "Observation": {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                    "entered-in-error", "unknown"},
    "Consent": {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
}  # fmt: skip


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[ContinuumApplication, list[Any]]]:
    """The demo cohort in memory, with every participant's resources."""
    application = ContinuumApplication(env=parse_store_url("memory://").settings)
    ids = load_demo_cohort(application, today=TODAY)
    resources = [
        participant_resources(pid, application.stream(pid), application.consents(pid), now=NOW)
        for pid in ids
    ]
    yield application, resources
    application.close()


def test_every_resource_of_the_demo_cohort_validates(
    demo: tuple[ContinuumApplication, list[list[dict[str, Any]]]],
) -> None:
    """Each resource of each demo participant validates as its R4 model, carries the Part 2
    label, and has a status from its value set; each participant's bundle validates whole."""
    _, per_participant = demo
    kinds: set[str] = set()
    for resources in per_participant:
        for resource in resources:
            kind = resource["resourceType"]
            kinds.add(kind)
            get_fhir_model_class(kind).model_validate(resource)
            assert PART2 in resource["meta"]["security"]
            if kind in STATUSES:
                assert resource["status"] in STATUSES[kind], resource["id"]
        Bundle.model_validate(collection_bundle(resources, timestamp=NOW))
    assert {"Patient", "EpisodeOfCare", "Encounter", "Observation"} <= kinds


def test_the_models_refuse_what_they_should(
    demo: tuple[ContinuumApplication, list[list[dict[str, Any]]]],
) -> None:
    """The validation above can fail: an unknown element or a wrong type is refused."""
    encounter = next(r for rs in demo[1] for r in rs if r["resourceType"] == "Encounter")
    model = get_fhir_model_class("Encounter")
    with pytest.raises(ValueError):
        model.model_validate({**encounter, "colour": "red"})
    with pytest.raises(ValueError):
        model.model_validate({**encounter, "period": {"start": "last tuesday"}})


def test_bulk_export_writes_one_ndjson_file_per_resource_type(tmp_path: Path) -> None:
    """`continuum export --format fhir-ndjson --output DIR` over a store with the demo cohort
    writes `<Type>.ndjson` files, one valid resource a line, with relative references."""
    url = f"sqlite:///{tmp_path / 'events.sqlite'}"
    application = ContinuumApplication(env=parse_store_url(url).settings)
    try:
        ids = load_demo_cohort(application, today=TODAY)
        expected = sum(
            len(participant_resources(pid, application.stream(pid), reference=relative_reference))
            for pid in ids
        )
    finally:
        application.close()
    out = tmp_path / "bulk"
    env = {"CONTINUUM_DATABASE_URL": url}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert cli_main(["export", "--format", "fhir-ndjson", "--output", str(out)]) == 0

    files = sorted(p.name for p in out.iterdir())
    assert "Patient.ndjson" in files and "Encounter.ndjson" in files
    lines = 0
    for path in out.iterdir():
        kind = path.name.removesuffix(".ndjson")
        for line in path.read_text().splitlines():
            resource = json.loads(line)
            assert resource["resourceType"] == kind
            get_fhir_model_class(kind).model_validate(resource)
            lines += 1
    assert lines == expected + _consent_count(out)
    encounter = json.loads((out / "Encounter.ndjson").read_text().splitlines()[0])
    assert encounter["subject"]["reference"].startswith("Patient/")
    assert (out / "Patient.ndjson").read_text().count("\n") == len(ids)


def _consent_count(out: Path) -> int:
    path = out / "Consent.ndjson"
    return path.read_text().count("\n") if path.exists() else 0
