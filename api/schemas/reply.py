"""The base of response shapes that mirror a domain or projection value field for field."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel


class Reply(BaseModel):
    """A response body read from a value whose attributes carry the fields' names."""

    @classmethod
    def read(cls, source: object, **given: Any) -> Self:
        """This shape filled from `source`'s attributes of the same names; `given` values are
        used instead where a field is named otherwise, derived, or converted. The shape's own
        validation still applies, so an attribute of the wrong type fails loudly."""
        values = {
            name: getattr(source, name)
            for name in cls.model_fields
            if name not in given and hasattr(source, name)
        }
        return cls.model_validate({**values, **given})
