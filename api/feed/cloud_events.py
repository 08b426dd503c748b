"""Participant events as CloudEvents 1.0 (structured JSON mode), the feed's public shape.

Built to the spec by hand (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md):
the attributes are plain JSON values, so the SDK would add a dependency and nothing else.

- `id`: the event's public id (stable across replays); `source`: `/continuum/programs/<program>`,
  the program the participant was in when the event was recorded, so `source` + `id` is unique;
- `type`: `org.continuum.participant.<snake_case name>.v<data version>`;
- `subject`: the participant id; `time`: when it happened clinically (`occurred_at`);
- `dataschema`: `urn:continuum:dataschema:<type>`, naming the `<Name>Data` schema of `data`
  (in the OpenAPI document's components and docs/asyncapi.yaml);
- `data`: what the event says (never the envelope, `recorded_by` or the hash chain);
- extensions (lower-case alphanumerics, as the spec requires): `position` (the global log
  position, the feed's cursor), `recordedat` (when it was recorded), `redisclosure` (the 42 CFR
  Part 2 notice) and `securitylabel` (`42CFRPart2`, as FHIR's meta.security labels such records).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from domain.participant import Participant

SPEC_VERSION = "1.0"
TYPE_PREFIX = "org.continuum.participant."
DATASCHEMA_PREFIX = "urn:continuum:dataschema:"
# 42 CFR 2.32(a)(2): the short form of the notice every disclosure must carry.
REDISCLOSURE_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
REDISCLOSURE_HEADER = "Part2-Redisclosure-Notice"
SECURITY_LABEL = "42CFRPart2"

# The version of each type's `data`, independent of the stored shape (`class_version`): the
# hash chain changed how events are stored but not one field consumers read. Bump an entry when
# a type's clinical fields change; tests/unit/test_cloud_events.py pins the fields per type.
DATA_VERSIONS: Mapping[str, int] = {}
DEFAULT_DATA_VERSION = 1

_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(name: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def cloud_event_type(event_name: str) -> str:
    """`SessionAttended` -> `org.continuum.participant.session_attended.v1`."""
    version = DATA_VERSIONS.get(event_name, DEFAULT_DATA_VERSION)
    return f"{TYPE_PREFIX}{snake_case(event_name)}.v{version}"


def event_name_of_type(type_or_name: str) -> str:
    """An event name from either spelling a client may use in `types=`."""
    if not type_or_name.startswith(TYPE_PREFIX):
        return type_or_name
    snake = type_or_name.removeprefix(TYPE_PREFIX).rsplit(".v", 1)[0]
    return "".join(part.capitalize() for part in snake.split("_"))


def dataschema_of(event_type: str) -> str:
    """The URI naming the schema of an event type's `data`."""
    return f"{DATASCHEMA_PREFIX}{event_type}"


def source_of(program_id: str) -> str:
    return f"/continuum/programs/{program_id}"


def to_cloud_event(event: Participant.Event, *, position: int, program_id: str) -> dict[str, Any]:
    """The structured-mode JSON object of one participant event."""
    event_type = cloud_event_type(type(event).__name__)
    return {
        "specversion": SPEC_VERSION,
        "id": str(event.event_id),
        "source": source_of(program_id),
        "type": event_type,
        "subject": str(event.originator_id),
        "time": _instant(event.occurred_at),
        "datacontenttype": "application/json",
        "dataschema": dataschema_of(event_type),
        "data": _jsonable(event.clinical_fields()),
        "position": position,
        "recordedat": _instant(event.recorded_at),
        "redisclosure": REDISCLOSURE_NOTICE,
        "securitylabel": SECURITY_LABEL,
    }


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, datetime):
        return _instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Iterable):
        return [_jsonable(v) for v in value]
    return str(value)
