"""The feed's event payloads as typed schemas: one `<Name>Data` model per kind of participant
event, built from the event class's own fields, and the CloudEvent envelope that carries it.

Built from the domain's annotations rather than written out again, so a field added to an
event appears here (and in the OpenAPI document) at once; tests/unit/test_cloud_events.py pins
the published fields per type, so such a change is never silent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal, Union, get_origin, get_type_hints
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, create_model

from api.feed.cloud_events import cloud_event_type, dataschema_of
from domain.chain import CHAIN_FIELDS
from domain.consent import participant_event_types
from domain.participant import ENVELOPE_FIELDS, Participant


def _data_model(name: str) -> type[BaseModel]:
    event_class = getattr(Participant, name)
    fields: dict[str, Any] = {
        field: (annotation, ...)
        for field, annotation in get_type_hints(event_class).items()
        if get_origin(annotation) is not ClassVar
        and field not in ENVELOPE_FIELDS
        and field not in CHAIN_FIELDS
    }
    model: type[BaseModel] = create_model(
        f"{name}Data",
        __config__=ConfigDict(
            extra="forbid",
            title=f"{name}Data",
            json_schema_extra={"description": f"`data` of {cloud_event_type(name)}"},
        ),
        **fields,
    )
    return model


EVENT_NAMES: tuple[str, ...] = tuple(participant_event_types())
DATA_MODELS: dict[str, type[BaseModel]] = {name: _data_model(name) for name in EVENT_NAMES}
EVENT_TYPES: tuple[str, ...] = tuple(cloud_event_type(name) for name in EVENT_NAMES)
EventData = Union[tuple(DATA_MODELS.values())]  # type: ignore[valid-type]  # noqa: UP007


class CloudEvent(BaseModel):
    """A participant event as a CloudEvent 1.0 in structured JSON."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "specversion": "1.0",
                    "id": "0f4a7c1e-2b3d-5e6f-8a9b-0c1d2e3f4a5b",
                    "source": "/continuum/programs/riverside-iop",
                    "type": "org.continuum.participant.session_attended.v1",
                    "subject": "6b1e0b58-4c1a-4d7e-9a43-2d7f3c9e8a10",
                    "time": "2026-02-03T09:00:00Z",
                    "datacontenttype": "application/json",
                    "dataschema": dataschema_of("org.continuum.participant.session_attended.v1"),
                    "data": {
                        "service": "group",
                        "duration_minutes": 180,
                        "modality": "CBT",
                        "track": "morning",
                    },
                    "position": 42,
                    "recordedat": "2026-02-03T12:05:00Z",
                    "redisclosure": "42 CFR part 2 prohibits unauthorized use or disclosure "
                    "of these records.",
                    "securitylabel": "42CFRPart2",
                }
            ]
        }
    )

    specversion: Literal["1.0"]
    id: UUID = Field(description="The event's public id, stable across replays")
    source: str = Field(description="/continuum/programs/<program>")
    type: str = Field(
        description="org.continuum.participant.<name>.v<version>",
        json_schema_extra={"enum": list(EVENT_TYPES)},
    )
    subject: UUID = Field(description="The participant's id")
    time: datetime = Field(description="When it happened clinically")
    datacontenttype: Literal["application/json"]
    dataschema: str = Field(description="urn:continuum:dataschema:<type>: the `<Name>Data` schema")
    data: EventData  # type: ignore[valid-type]
    position: int = Field(description="The log position: the feed's cursor")
    recordedat: datetime = Field(description="When it was recorded")
    redisclosure: str = Field(description="The 42 CFR 2.32 notice")
    securitylabel: Literal["42CFRPart2"]
