"""A participant event's public id as text, computed once per event and cheaply.

Same value as `domain.participant.event_id_for` (a UUID5 of "<participant id>/<version>"),
spelled directly from the SHA-1 digest: the fold needs the text for every event it applies, and
building a UUID object per call was a measurable share of a rebuild. The domain owns the
spelling (its aggregates file entries by it); this module keeps the projections' import.
"""

from __future__ import annotations

from domain.participant import event_id_text

__all__ = ["event_id_text"]
