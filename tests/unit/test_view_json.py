"""View states are written as the same text whichever encoder writes them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.view_json import compact_json

# What view states are made of: no floats (see projections.view_json).
_SCALARS = st.none() | st.booleans() | st.integers() | st.text()
_STATES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)


def _stdlib(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@settings(max_examples=400)
@given(_STATES)
def test_any_view_state_is_written_as_the_stdlib_writes_it(state: Any) -> None:
    assert compact_json(state) == _stdlib(state)


@pytest.mark.parametrize(
    "state",
    [
        ["session", "Zoë attended"],  # non-ASCII: escaped by the stdlib
        {"note": "a\x7fb"},  # DEL: escaped by the stdlib, bare in orjson
        [2**70, -(2**64)],  # beyond 64 bits: orjson refuses
        {"control": '\x00\x1f\n\t"\\/'},
        {"emoji": "\U0001f600", "lone surrogate": "\ud800"},
    ],
)
def test_what_orjson_writes_otherwise_is_written_by_the_stdlib(state: Any) -> None:
    assert compact_json(state) == _stdlib(state)


@dataclass
class _Span:
    level: str


@pytest.mark.parametrize("value", [datetime(2026, 3, 2, tzinfo=UTC), _Span("2.1")])
def test_values_the_stdlib_refuses_are_still_refused(value: object) -> None:
    """A fold that forgot to spell a time or a record out fails its encode, as before."""
    with pytest.raises(TypeError):
        compact_json({"from": value})
