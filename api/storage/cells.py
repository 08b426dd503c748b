"""Encryption at rest for the tables kept beside the events: one cell at a time.

The library's AESCipher seals event and snapshot bodies; every other table the project writes
(views, access log, disclosure log, idempotency receipts, feed checkpoints) is sealed here, with
the same CONTINUUM_CIPHER_KEY:

- `seal(value, where)`: AES-256-GCM (NIST SP 800-38D) with a fresh 96-bit nonce per cell. The
  associated data names the cell's table, column and row (`Where`), so a ciphertext copied into
  another row or column fails authentication instead of being read as that row's value.
- `tag(value, column)`: HMAC-SHA-256 (RFC 2104) of the value, for columns that are only ever
  looked up by equality (a recipient, an Idempotency-Key, a program id): equal values give equal
  tags under one key, and the value cannot be read back from the tag.

The configured key is never used directly: HKDF-SHA-256 (RFC 5869) derives one key for AES-GCM,
one for HMAC and a short key id, so the same key material never serves two algorithms. Every
sealed cell and tag starts with its key id: key rotation (api.storage.rotation) tells a cell it
already rewrote from one it has not, and a reader refuses a cell sealed under another key with
an error naming the fix instead of returning garbage.

Without a key (`PLAIN`), cells are stored as they are: that store keeps nothing encrypted, as
before, and the README says so.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from api.settings import SettingsError

SEALED = "c1."  # a sealed cell: c1.<key id>.<base64 of nonce + ciphertext + GCM tag>
TAGGED = "t1."  # an equality tag: t1.<key id>.<hex HMAC>
NONCE_BYTES = 12  # GCM's recommended IV length (SP 800-38D, 8.2)
_SALT = b"continuum cells v1"


class CellError(SettingsError):
    """A stored cell cannot be opened with the configured key."""


@dataclass(frozen=True)
class Where:
    """Which cell a value belongs to: bound into the ciphertext as associated data."""

    table: str  # the logical table (stable across renames, e.g. a rebuilt view's table)
    column: str
    row: str  # the row's own identity: its key, or the plain columns that name it

    def associated_data(self) -> bytes:
        return f"{self.table}\x1f{self.column}\x1f{self.row}".encode()


class Cells:
    """Seals and opens cells under one key (`CellCipher`), or passes them through (`PLAIN`)."""

    encrypted = False
    key_id = ""

    def seal(self, value: str, where: Where) -> str:
        return value

    def open(self, stored: str, where: Where) -> str:
        return stored

    def tag(self, value: str, column: str) -> str:
        return value

    def sealed_here(self, stored: str) -> bool:
        """True if `stored` is already sealed (or tagged) under this key."""
        return not self.encrypted


PLAIN = Cells()


class CellCipher(Cells):
    encrypted = True

    def __init__(self, cipher_key: str) -> None:
        try:
            material = base64.b64decode(cipher_key, validate=True)
        except (binascii.Error, ValueError):
            raise SettingsError("CONTINUUM_CIPHER_KEY is not base64") from None
        if len(material) not in (16, 24, 32):
            raise SettingsError("CONTINUUM_CIPHER_KEY must decode to 16, 24 or 32 bytes")
        self._aead = AESGCM(_derive(material, b"aes-gcm"))
        self._mac_key = _derive(material, b"hmac-sha256")
        self.key_id = _derive(material, b"key id")[:4].hex()
        self._sealed = f"{SEALED}{self.key_id}."
        self._tagged = f"{TAGGED}{self.key_id}."

    def seal(self, value: str, where: Where) -> str:
        nonce = os.urandom(NONCE_BYTES)
        body = self._aead.encrypt(nonce, value.encode(), where.associated_data())
        return self._sealed + base64.b64encode(nonce + body).decode("ascii")

    def open(self, stored: str, where: Where) -> str:
        if not stored.startswith(self._sealed):
            raise CellError(_refusal(stored, where))
        raw = base64.b64decode(stored[len(self._sealed) :])
        try:
            plain = self._aead.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], where.associated_data()
            )
        except InvalidTag:
            # Never the cell's bytes: only where it is.
            raise CellError(f"a sealed cell of {where.table}.{where.column} fails its check: "
                            "it was altered or moved from another row") from None  # fmt: skip
        return plain.decode()

    def tag(self, value: str, column: str) -> str:
        mac = hmac.new(self._mac_key, f"{column}\x1f{value}".encode(), sha256).hexdigest()
        return self._tagged + mac

    def sealed_here(self, stored: str) -> bool:
        return stored.startswith((self._sealed, self._tagged))


def cells_for(cipher_key: str | None) -> Cells:
    """The cells of a store written with `cipher_key` (CONTINUUM_CIPHER_KEY), or PLAIN."""
    return CellCipher(cipher_key) if cipher_key else PLAIN


def key_id_of(stored: str) -> str | None:
    """The key id a sealed cell or tag names; None for a plain value."""
    if stored.startswith((SEALED, TAGGED)):
        return stored.split(".", 2)[1]
    return None


def row_at(participant_id: UUID | str, at: datetime) -> str:
    """The identity of a log row, from its plain columns: the participant and the moment.

    A log row's own id is assigned by the database as it is inserted, after its cells are
    sealed; the participant and the time (in microseconds, whatever time zone a driver reads it
    back in) are known before and stored plain, so a cell moved to another participant's row,
    or another moment, fails to open.
    """
    micros = round(at.timestamp() * 1_000_000)
    return f"{participant_id}@{micros}"


def _derive(material: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose).derive(material)


def _refusal(stored: str, where: Where) -> str:
    other = key_id_of(stored)
    cell = f"{where.table}.{where.column}"
    if other is None:
        return f"{cell} holds a cell in plain text on an encrypted store: run the migrations"
    return (
        f"{cell} holds a cell sealed with key {other}, not the configured key: a key "
        "rotation was not finished (run `continuum rotate-key` again) or the key is wrong"
    )
