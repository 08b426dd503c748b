"""Tamper evidence: each stored event carries a hash sealing its content and its predecessor.

The rule, simple enough to re-check with a dozen lines of Python and nothing else:

- An event's *content* is its topic, `originator_id`, `originator_version`, `timestamp` and
  every other stored field except `event_hash` (so `previous_hash` is part of it).
- Its canonical form is JSON with sorted keys, no whitespace, ASCII escapes: datetimes and
  dates as ISO 8601 (`isoformat()`), UUIDs as strings, tuples as arrays; for the stored JSON
  values that is `json.dumps(content, sort_keys=True, separators=(",", ":"))`.
- `event_hash = sha256(canonical content).hexdigest()`, and `previous_hash` is the
  `event_hash` of the event before it in the same stream, `GENESIS` ("") for the first.

Editing a stored event changes its content, so its hash no longer matches (a *content* break);
re-hashing the edit does not help, because the next event's `previous_hash` still names the
old hash (a *link* break). Deleting an event leaves a version gap.

Streams written before the chain existed (event shape v1) carry no hashes: the upcaster gives
them `previous_hash = event_hash = None`. Such *legacy* events are hashed on the fly by the
same rule, chaining from `GENESIS`, so the first chained event's `previous_hash` seals the whole
legacy prefix: editing a legacy event afterwards shows as a link break at that first chained
event (which legacy event was edited cannot be told, as nothing sealed it at the time).
A legacy event *after* a chained one cannot come from an old release writing before the
upgrade, so verify reports it as a break (hash fields stripped to hide an edit).

What a hash chain alone cannot show: a stream re-written whole with fresh hashes, a stream
truncated at its tail, or a legacy-only stream edited. Keeping the head hashes (the report's
`head_hash`, or an export) somewhere else closes those.

This module is pure (standard library only) so that an auditor can read and reuse it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from uuid import UUID

GENESIS = ""
"""The `previous_hash` of a stream's first event."""

CHAIN_FIELDS = frozenset({"previous_hash", "event_hash"})
"""Stored event fields that belong to the chain, not to what the event says."""

BreakKind = Literal["content", "link", "gap", "unchained", "unreadable", "snapshot"]


def _json_default(value: object) -> object:
    if isinstance(value, date):  # datetimes too: datetime is a date
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


def canonical_json(content: Mapping[str, object]) -> str:
    """The one text form of `content` that is hashed."""
    return json.dumps(
        content,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
        default=_json_default,
    )


def content_fields(state: Mapping[str, Any]) -> dict[str, Any]:
    """An event's stored fields without the chain's own (`previous_hash`, `event_hash`)."""
    return {name: value for name, value in state.items() if name not in CHAIN_FIELDS}


def event_content(topic: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """What an event's hash covers, minus `previous_hash`: its topic and stored fields.

    `state` is the event's field dict as the store keeps it: `vars(event)` of a decoded event,
    or the keyword arguments an event is about to be built from (with `originator_id`,
    `originator_version` and `timestamp`). Chain fields in it are ignored.
    """
    content = content_fields(state)
    content["topic"] = topic
    return content


def event_hash(previous_hash: str, content: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical content with `previous_hash` added to it."""
    sealed = dict(content)
    sealed.pop("event_hash", None)
    sealed["previous_hash"] = previous_hash
    return hashlib.sha256(canonical_json(sealed).encode("ascii")).hexdigest()


def next_hash(previous_hash: str, topic: str, state: Mapping[str, Any]) -> str:
    """The hash an event with this topic and these fields gets after `previous_hash`."""
    return event_hash(previous_hash, event_content(topic, state))


# ---- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Unreadable:
    """A stored event that could not be decoded (bad ciphertext, mangled JSON, unknown topic)."""

    originator_id: UUID | str
    originator_version: int
    reason: str
    event_id: UUID | None = None


@dataclass(frozen=True)
class Break:
    """The first place where a stream stops matching its chain."""

    version: int
    event_id: UUID | None
    kind: BreakKind
    detail: str
    expected: str | None = None  # the hash recomputed from the stream
    found: str | None = None  # the hash stored with the event


@dataclass(frozen=True)
class ChainReport:
    """The verdict on one stream."""

    originator_id: UUID | str | None
    events: int = 0
    chained: int = 0  # events carrying their own hash
    legacy: int = 0  # events from before the chain, hashed on the fly
    broken: int = 0  # events failing a check (only the first is described)
    first_break: Break | None = None
    head_hash: str = GENESIS  # the last event's hash (recomputed for a legacy event)
    head_version: int = 0
    sealed: bool = False  # the last event carries its own hash: an edit anywhere would show
    # Stored snapshots that do not match the stream (checked by domain.service.snapshots).
    snapshot_breaks: tuple[Break, ...] = ()

    @property
    def ok(self) -> bool:
        return self.first_break is None and not self.snapshot_breaks

    def describe(self) -> str:
        """One line for people and logs (ids, versions and hashes only: no clinical data)."""
        if self.first_break is None and self.snapshot_breaks:
            b = self.snapshot_breaks[0]
            more = len(self.snapshot_breaks) - 1
            extra = f" (and {more} more)" if more else ""
            return f"{self.originator_id}: BROKEN: snapshot: {b.detail}{extra}"
        if self.first_break is None:
            return (
                f"{self.originator_id}: ok, {self.events} events "
                f"({self.chained} chained, {self.legacy} legacy), head {self.head_hash[:12]}"
            )
        b = self.first_break
        at = f"version {b.version}" + (f" (event {b.event_id})" if b.event_id else "")
        return f"{self.originator_id}: BROKEN at {at}: {b.kind}: {b.detail}"


def declared_topic(event: object) -> str:
    """The event class's fixed TOPIC, else the library's default `module:QualName` form."""
    cls = type(event)
    topic = getattr(cls, "TOPIC", None)
    return topic if isinstance(topic, str) else f"{cls.__module__}:{cls.__qualname__}"


def verify_chain(
    events: Iterable[object],
    *,
    originator_id: UUID | str | None = None,
    topic_of: Callable[[object], str] = declared_topic,
) -> ChainReport:
    """Recompute a stream's chain from its decoded events (in version order).

    Each item is a decoded event (fields read from `vars(event)`) or an `Unreadable`.
    Every event is checked on its own (its content against its hash, its link against the
    stored hash before it), so `broken` counts each failing event; `first_break` names the
    first one.
    """
    checker = _Checker(originator_id)
    for item in events:
        checker.check(item, topic_of)
    return checker.report()


class _Checker:
    def __init__(self, originator_id: UUID | str | None) -> None:
        self.originator_id = originator_id
        self.events = 0
        self.chained = 0
        self.legacy = 0
        self.broken = 0
        self.first_break: Break | None = None
        # The hash the next event must name as its previous_hash; None after an unreadable
        # event, when there is nothing to check the next link against.
        self.running: str | None = GENESIS
        self.version = 0
        self.chain_began = False
        self.sealed = False

    def check(self, item: object, topic_of: Callable[[object], str]) -> None:
        self.events += 1
        if isinstance(item, Unreadable):
            version, event_id = item.originator_version, item.event_id
            self._record(
                self._gap(version, item),
                Break(version, event_id, "unreadable", item.reason),
            )
            self.running = None
            self.sealed = False
            return
        state = vars(item)
        if self.originator_id is None:
            self.originator_id = state.get("originator_id")
        version = int(state["originator_version"])
        gap = self._gap(version, item)
        content = event_content(topic_of(item), state)
        stored_hash = state.get("event_hash")
        stored_previous = state.get("previous_hash")
        if stored_hash is None:
            self.legacy += 1
            self.running = event_hash(self.running or "", content)
            self.sealed = False
            unchained = None
            if self.chain_began:
                unchained = Break(
                    version,
                    _event_id(item),
                    "unchained",
                    "an event without a hash after the chain began "
                    "(hash fields removed, or written by a release without the chain)",
                )
            self._record(gap, unchained)
            return
        self.chained += 1
        self.chain_began = True
        link = None
        if self.running is not None and stored_previous != self.running:
            link = Break(
                version,
                _event_id(item),
                "link",
                "previous_hash does not match the hash of the event before it",
                expected=self.running,
                found=_str_or_none(stored_previous),
            )
        recomputed = event_hash(str(stored_previous or ""), content)
        edited = None
        if recomputed != stored_hash:
            edited = Break(
                version,
                _event_id(item),
                "content",
                "the event's content does not match its hash (the stored event was edited)",
                expected=recomputed,
                found=_str_or_none(stored_hash),
            )
        # Chain on from what was stored, so one edit is reported once, not at every later event.
        self.running = str(stored_hash)
        self.sealed = True
        self._record(gap, link, edited)

    def _gap(self, version: int, item: object) -> Break | None:
        expected = self.version + 1
        self.version = version
        if version == expected:
            return None
        if version == expected + 1:
            detail = f"version {expected} is missing"
        elif version > expected:
            detail = f"versions {expected} to {version - 1} are missing"
        else:
            detail = f"version {version} comes after version {expected - 1}"
        return Break(version, _event_id(item), "gap", detail)

    def _record(self, *found: Break | None) -> None:
        breaks = [b for b in found if b is not None]
        if not breaks:
            return
        self.broken += 1
        if self.first_break is None:
            self.first_break = breaks[0]

    def report(self) -> ChainReport:
        return ChainReport(
            originator_id=self.originator_id,
            events=self.events,
            chained=self.chained,
            legacy=self.legacy,
            broken=self.broken,
            first_break=self.first_break,
            head_hash=self.running or "",
            head_version=self.version,
            sealed=self.sealed and self.first_break is None,
        )


def _event_id(item: object) -> UUID | None:
    """The event's public id, if its kind has one (worked out only to describe a break)."""
    found = getattr(item, "event_id", None)
    return found if isinstance(found, UUID) else None


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
