"""The orjson-decoding transcoder decodes every stored payload to what the library's own
JSONTranscoder decodes it to: same values, same types, same errors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError
from hypothesis import given
from hypothesis import strategies as st

from domain.application import ContinuumApplication
from domain.service.transcoder import OrjsonDecodingTranscoder


def transcoders() -> tuple[JSONTranscoder, OrjsonDecodingTranscoder]:
    """The library's transcoder and ours, each with the application's transcodings."""
    app = ContinuumApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    library = JSONTranscoder()
    app.register_transcodings(library)
    ours = app.mapper.transcoder
    assert isinstance(ours, OrjsonDecodingTranscoder)
    return library, ours


LIBRARY, OURS = transcoders()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.uuids(),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])),
    st.decimals(allow_nan=False, allow_infinity=False),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=12), values))
def test_any_encoded_state_decodes_as_the_library_decodes_it(state: dict[str, Any]) -> None:
    encoded = LIBRARY.encode(state)
    decoded = OURS.decode(encoded)
    assert decoded == LIBRARY.decode(encoded)
    assert _types(decoded) == _types(LIBRARY.decode(encoded))


def test_a_stored_event_state_decodes_to_its_typed_values() -> None:
    occurred = datetime(2025, 11, 12, 9, 0, tzinfo=UTC)
    state = {
        "occurred_at": occurred,
        "nested": [{"on": date(2025, 11, 12), "ids": [UUID(int=7)]}, {"amount": Decimal("1.5")}],
        "service": "group",
        "duration_minutes": 180,
        "modality": None,
    }
    assert OURS.decode(LIBRARY.encode(state)) == state


@pytest.mark.parametrize(
    "payload",
    [
        b'{"score": NaN, "limit": Infinity}',  # the stdlib writes these; orjson refuses them
        b'{"count": 123456789012345678901234567890}',  # beyond 64 bits: orjson reads a float
        b'{"low": -9223372036854775809, "in": [18446744073709551616]}',  # just beyond, nested
        b'{"big": 1e400}',  # infinity when read as a double
        b'{"text": "\\ud800"}',  # a lone surrogate in an escape
    ],
)
def test_what_orjson_refuses_is_decoded_by_the_stdlib(payload: bytes) -> None:
    expected = LIBRARY.decode(payload)
    decoded = OURS.decode(payload)
    assert json.dumps(decoded) == json.dumps(expected)
    assert _types(decoded) == _types(expected)


def test_a_type_name_nobody_registered_is_refused_as_the_library_refuses_it() -> None:
    payload = b'{"at": {"_type_": "no_such_type", "_data_": "x"}}'
    with pytest.raises(TranscodingNotRegisteredError):
        LIBRARY.decode(payload)
    with pytest.raises(TranscodingNotRegisteredError, match="no_such_type"):
        OURS.decode(payload)


def test_objects_that_only_look_typed_are_left_as_objects() -> None:
    for payload in (
        b'{"x": {"_type_": "uuid_hex"}}',
        b'{"x": {"_type_": "uuid_hex", "_data_": "00", "more": 1}}',
    ):
        assert OURS.decode(payload) == LIBRARY.decode(payload)


def test_encoding_is_the_library_s_byte_for_byte() -> None:
    state = {"at": datetime(2025, 1, 2, 3, 4, tzinfo=UTC), "id": uuid4(), "text": "é"}
    assert OURS.encode(state) == LIBRARY.encode(state)


def _types(value: Any) -> Any:
    """The shape of `value` with every leaf replaced by its type."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value)
