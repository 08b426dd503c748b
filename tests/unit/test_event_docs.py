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
