"""The event transcoder: eventsourcing's JSONTranscoder, decoding with orjson.

Decoding stored events was the largest single cost of a rebuild (19% of a worker's CPU in
py-spy at 1M events; the stdlib decoder calls the library's Python hook for every object).
Here orjson parses, and one walk over the parsed objects restores the typed values
(`{"_type_", "_data_"}`): 100,000 stored events of the bench's 1M-event store decoded in
0.56-0.58 s, against 0.87-1.05 s by the library's transcoder (2026-12-03, same process,
alternating).

Encoding is unchanged (the stdlib encoder of the base class): the stored bytes, and so the
hash chain over them, stay exactly what they were. Anything orjson refuses that the stdlib
accepts (NaN, infinities, lone surrogates in escapes), and any payload orjson may read
differently (it reads integers beyond 64 bits as floats), is decoded by the stdlib decoder, so
every stored event decodes to the same value as before.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

# orjson reads an integer beyond 64 bits as a float, silently; a float this large in its output
# may have been such an integer, and the stdlib decoder reads it exactly.
_EXACT_BOUND = float(2**63)
# What the walk descends into or checks; every other parsed value is already the stdlib's.
_NEEDS_RESTORING = frozenset({dict, list, float})


class _StdlibNeeded(Exception):
    """orjson's reading of the payload may differ from the stdlib's."""


class OrjsonDecodingTranscoder(JSONTranscoder):
    def decode(self, data: bytes) -> Any:
        try:
            return self._restore(orjson.loads(data))
        except (orjson.JSONDecodeError, _StdlibNeeded):
            return super().decode(data)

    def _restore(self, value: Any) -> Any:
        """`value` with every `{"_type_": name, "_data_": data}` object decoded by the
        library's own hook (`_decode_obj`), innermost first, as the stdlib decoder calls it."""
        kind = type(value)
        if kind is float:
            if -_EXACT_BOUND < value < _EXACT_BOUND:
                return value
            raise _StdlibNeeded
        if kind is not dict and kind is not list:
            return value
        for key, item in value.items() if kind is dict else enumerate(value):
            if type(item) in _NEEDS_RESTORING:
                value[key] = self._restore(item)
        if kind is dict and len(value) == 2:
            return self._decode_obj(value)
        return value
