"""docs/events.md's table of event types is the one the feed publishes (no drift)."""

from __future__ import annotations

import re
from pathlib import Path

from api.feed.cloud_events import cloud_event_type
from api.schemas.events import DATA_MODELS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_event_type_table_matches_the_published_types() -> None:
    """Each row names a published event, its CloudEvent type and exactly its data fields,
    and every published event has a row."""
    table = DOCS.read_text().split("<!-- event-types:begin -->")[1].split("<!-- event-types:end")[0]
    rows = {}
    for line in (row for row in table.splitlines() if row.startswith("| `")):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3:
            rows[cells[0].strip("`")] = (cells[1].strip("`"), re.findall(r"`(\w+)`", cells[2]))
    assert set(rows) == set(DATA_MODELS)
    for name, (event_type, fields) in rows.items():
        assert event_type == cloud_event_type(name)
        assert fields == list(DATA_MODELS[name].model_fields)


def test_the_asyncapi_document_describes_every_type_with_its_schema() -> None:
    """docs/asyncapi.yaml has a message per event type on both channels, and its `<Name>Data`
    schemas are the ones the event classes produce now."""
    import yaml  # type: ignore[import-untyped]

    document = yaml.safe_load((DOCS.parent / "asyncapi.yaml").read_text())
    assert document["asyncapi"].startswith("3.")
    messages = document["components"]["messages"]
    assert {m["name"] for m in messages.values()} == {cloud_event_type(n) for n in DATA_MODELS}
    for channel in document["channels"].values():
        assert set(channel["messages"]) == set(DATA_MODELS)
    for name, model in DATA_MODELS.items():
        assert document["components"]["schemas"][f"{name}Data"] == model.model_json_schema()
