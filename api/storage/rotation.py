"""Key rotation: every event, snapshot and side-table cell re-encrypted under a new key.

NIST SP 800-57 Part 1 (5.3) gives a data-encryption key a limited cryptoperiod, so a store
must be able to move to a new key without losing or reordering anything. `rotate` rewrites each
table in place, in batches of `batch` rows, each batch its own transaction:

- events and snapshots (the library's AES-GCM bodies): a body the new key opens is done already;
  any other must open with the old key and is sealed with the new one. Positions, versions,
  topics and ids are never touched, so the log's order and the hash chains (which cover the
  decoded content, not its ciphertext) are unchanged;
- side tables (api.storage.reseal): cells carry their key id, so rewritten ones are skipped.

`continuum_key_rotation` holds one row (old key id, new key id) from the start of a rotation
to its end. While it exists the store is half under each key: every entry point refuses it
(`refuse_unfinished_rotation`) with one line saying how to finish, and running the same
rotation again resumes it, after a kill -9 too, since every finished batch is committed and
every row already under the new key is recognised as such.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cipher import AESCipher
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import Environment

from api.settings import SettingsError
from api.storage.cells import CellCipher, Cells
from api.storage.reseal import Batches, Row, per_batch, rewrite_rows, side_table_rewrites
from api.storage.schema import Db, Tables
from domain.snapshot_seal import reseal, seal_key


class RotationUnfinished(SettingsError):
    """A key rotation started and did not finish: the store is half under each key."""


class RotationRefused(SettingsError):
    """This rotation cannot start (no key, the same key, another rotation unfinished)."""


@dataclass
class RotationReport:
    """Rows rewritten per table (rows already under the new key are not counted)."""

    rewritten: dict[str, int] = field(default_factory=dict)
    resumed: bool = False


def refuse_unfinished_rotation(db: Db, t: Tables) -> None:
    """Raise RotationUnfinished if a rotation is under way (what every entry point checks)."""
    found = unfinished_rotation(db, t)
    if found is not None:
        old, new = found
        raise RotationUnfinished(
            f"a key rotation from key {old} to key {new} did not finish: run `continuum "
            "rotate-key --new-key NEW` again with CONTINUUM_CIPHER_KEY set to the old key"
        )


def unfinished_rotation(db: Db, t: Tables) -> tuple[str, str] | None:
    """(old key id, new key id) of the rotation under way, or None."""
    with db.transaction():
        if not db.table_exists(t.rotation):
            return None
        found = db.rows(f"SELECT old_key, new_key FROM {t.rotation}")
    return (str(found[0][0]), str(found[0][1])) if found else None


def begin(db: Db, t: Tables, old: Cells, new: CellCipher) -> bool:
    """Record the rotation (or find it recorded); True if it resumes an unfinished one."""
    if not old.encrypted:
        raise RotationRefused(
            "rotate-key needs the store's current key in CONTINUUM_CIPHER_KEY (a store "
            "written without one has nothing encrypted to rotate)"
        )
    if old.key_id == new.key_id:
        raise RotationRefused("--new-key is the key the store already has")
    found = unfinished_rotation(db, t)
    if found is not None and found != (old.key_id, new.key_id):
        raise RotationRefused(
            f"another rotation, from key {found[0]} to key {found[1]}, is unfinished: "
            "finish that one first, with those keys"
        )
    if found is None:
        with db.transaction():
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {t.rotation} "
                "(old_key TEXT NOT NULL, new_key TEXT NOT NULL, started_at TEXT NOT NULL)"
            )
            db.execute(
                f"INSERT INTO {t.rotation} VALUES (?, ?, ?)",
                (old.key_id, new.key_id, datetime.now(UTC).isoformat()),
            )
    return found is not None


def finish(db: Db, t: Tables) -> None:
    with db.transaction():
        db.execute(f"DELETE FROM {t.rotation}")


def rotate(
    db: Db,
    t: Tables,
    old: Cells,
    new_key: str,
    old_key: str,
    mapper: Mapper[UUID],
    *,
    batch: int = 500,
    progress: Callable[[str, int], None] = lambda table, rows: None,
) -> RotationReport:
    """Re-encrypt every row of the store from `old_key` to `new_key` (see the module's doc)."""
    new = CellCipher(new_key)
    report = RotationReport(resumed=begin(db, t, old, new))
    batches = per_batch(batch, progress)
    bodies = _Bodies(old_key, new_key)
    seals = _SnapshotSeals(mapper, old_key, new_key)
    report.rewritten["events"] = rewrite_event_rows(db, t, bodies, batches)
    report.rewritten["snapshots"] = rewrite_snapshot_rows(db, t, bodies, seals, batches)
    for rewrite in side_table_rewrites():
        name = rewrite.__name__.removeprefix("rewrite_").removesuffix("_rows")
        report.rewritten[name] = rewrite(db, t, old, new, batches)
    finish(db, t)
    return report


class _Bodies:
    """Event and snapshot bodies under the old and the new key.

    The library's AESCipher lays a body out as nonce (12 bytes), GCM tag (16), ciphertext, with
    no associated data; the same AES-GCM from `cryptography` reads and writes that layout at a
    fraction of the cost of building a pycryptodome cipher per body.
    """

    def __init__(self, old_key: str, new_key: str) -> None:
        self.old = AESGCM(base64.b64decode(old_key))
        self.new = AESGCM(base64.b64decode(new_key))

    def under_new_key(self, state: Any) -> bool:
        """True if the new key opens `state` (a resumed rotation wrote it already)."""
        body = bytes(state)
        try:
            self.new.decrypt(body[:12], body[28:] + body[12:28], None)
        except InvalidTag:
            return False
        return True

    def rotated(self, state: Any) -> bytes | None:
        """`state` under the new key; None if it is under the new key already."""
        if self.under_new_key(state):
            return None
        body = bytes(state)
        nonce, tag, ciphertext = body[:12], body[12:28], body[28:]
        # Raises InvalidTag for a body neither key opens: the rotation stops, nothing lost.
        plain = self.old.decrypt(nonce, ciphertext + tag, None)
        fresh = os.urandom(12)
        sealed = self.new.encrypt(fresh, plain, None)
        return fresh + sealed[-16:] + sealed[:-16]


def rewrite_event_rows(db: Db, t: Tables, bodies: _Bodies, batches: Batches) -> int:
    """The events' bodies: only `state` changes; position, stream, version and topic stay."""

    def transform(row: Row) -> tuple[Any, ...] | None:
        position, state = row
        rotated = bodies.rotated(state)
        return None if rotated is None else (rotated, position)

    return rewrite_rows(db, t.events, t.event_position, ("state",), ("state",), transform, batches)


def rewrite_snapshot_rows(
    db: Db, t: Tables, bodies: _Bodies, seals: _SnapshotSeals, batches: Batches
) -> int:
    """The snapshots' bodies, each sealed anew under the new key's seal key: a seal under the
    old key would make every snapshot look tampered with (domain.snapshot_seal)."""

    def transform(row: Row) -> tuple[Any, ...] | None:
        originator_id, version, topic, state = row
        if bodies.under_new_key(state):
            return None  # under the new key already (a resumed rotation)
        return seals.resealed(originator_id, version, topic, state), originator_id, version

    key = ("originator_id", "originator_version")
    return rewrite_rows(db, t.snapshots, key, ("topic", "state"), ("state",), transform, batches)


class _SnapshotSeals:
    """Snapshots read with the old key's mapper and written with the new key's."""

    def __init__(self, old_mapper: Mapper[UUID], old_key: str, new_key: str) -> None:
        self.old_mapper = old_mapper
        self.new_mapper: Mapper[UUID] = Mapper(
            transcoder=old_mapper.transcoder,
            compressor=old_mapper.compressor,
            cipher=AESCipher(Environment(env={AESCipher.CIPHER_KEY: new_key})),
        )
        self.old_seal_key, self.new_seal_key = seal_key(old_key), seal_key(new_key)

    def resealed(self, originator_id: Any, version: int, topic: str, state: Any) -> bytes:
        stored = StoredEvent(
            originator_id=UUID(str(originator_id)),
            originator_version=version,
            topic=topic,
            state=bytes(state),
        )
        snapshot = self.old_mapper.to_domain_event(stored)
        sealed = reseal(snapshot, self.old_seal_key, self.new_seal_key)
        # A snapshot whose seal does not check under the old key stays as it was (re-encrypted
        # only): still rejected on load and still reported by verify, never laundered.
        return self.new_mapper.to_stored_event(sealed or snapshot).state
