"""Packaging FHIR resources: a `collection` Bundle for one participant, NDJSON for bulk export.

Bulk files follow the FHIR Bulk Data Access IG's output layout: one file per resource type,
one resource per line, named `<ResourceType>.ndjson`, with relative references (`Patient/<id>`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from api.fhir.codes import meta
from api.fhir.resources import Resource

FHIR_JSON = "application/fhir+json"


def collection_bundle(resources: Iterable[Resource], *, timestamp: datetime) -> dict[str, Any]:
    """A Bundle of type collection; each entry's fullUrl is `urn:uuid:<id>`, the form the
    resources' references take inside it."""
    return {
        "resourceType": "Bundle",
        "meta": meta(),
        "type": "collection",
        "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
        "entry": [
            {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
            for resource in resources
        ],
    }


def ndjson_line(resource: Resource) -> str:
    return json.dumps(resource, separators=(",", ":"), sort_keys=True)


class NdjsonWriter:
    """Appends resources to `<ResourceType>.ndjson` files under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.counts: dict[str, int] = {}
        self._files: dict[str, Any] = {}

    def write(self, resources: Iterable[Resource]) -> None:
        for resource in resources:
            kind = resource["resourceType"]
            handle = self._files.get(kind)
            if handle is None:
                handle = (self.directory / f"{kind}.ndjson").open("w", encoding="utf-8")
                self._files[kind] = handle
            handle.write(ndjson_line(resource) + "\n")
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
