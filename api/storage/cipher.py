"""Encryption at rest: the library's AES-GCM cipher for stored events and snapshots.

Switched on by CONTINUUM_CIPHER_KEY through Settings, never by the library reading the
environment itself: the library merges os.environ under our settings and looks up
`CONTINUUM_<NAME>` before `<NAME>`, so both spellings are always set here (empty when off) and a
stray variable cannot switch the cipher on, or off, behind the settings' back.

A store must be read with the key it was written with. `check_cipher` decodes the first and the
last stored events when the store is opened (api.bootstrap), so a wrong key, a key on a
plaintext store, or no key on an encrypted one stops every entry point with a clear error
instead of failing on some later read, or after a rebuild dropped the views.
"""

from __future__ import annotations

from eventsourcing.cipher import AESCipher

from api.settings import SettingsError
from domain.application import ContinuumApplication

AES_CIPHER_TOPIC = "eventsourcing.cipher:AESCipher"
CIPHER_KEY_BYTES = 32  # AES-256


class CipherMismatch(SettingsError):
    """The stored events cannot be read with the configured CONTINUUM_CIPHER_KEY."""


def cipher_settings(cipher_key: str | None) -> dict[str, str]:
    """Library settings that turn the cipher on with `cipher_key`, or explicitly off."""
    topic = AES_CIPHER_TOPIC if cipher_key else ""
    key = cipher_key or ""
    prefix = ContinuumApplication.name.upper()
    return {
        "CIPHER_TOPIC": topic,
        "CIPHER_KEY": key,
        f"{prefix}_CIPHER_TOPIC": topic,
        f"{prefix}_CIPHER_KEY": key,
    }


def check_cipher(application: ContinuumApplication, *, encrypted: bool) -> None:
    """Decode the first and the last stored event; raise CipherMismatch if this key cannot.

    Both ends: a store whose later events were written under another key (or none) is refused
    too, before a command that rebuilds from the log drops anything.
    """
    recorder = application.recorder
    head = recorder.max_notification_id()
    if not head:
        return  # an empty store is written with whatever key is configured now
    first = recorder.select_notifications(start=None, limit=1)
    last = recorder.select_notifications(start=head, limit=1)
    try:
        for notification in (*first, *last):
            application.mapper.to_domain_event(notification)
    except Exception:
        # Never the exception's text: it may quote stored bytes.
        if encrypted:
            detail = (
                "CONTINUUM_CIPHER_KEY cannot decrypt the stored events: the key is wrong, or the "
                "store was written without encryption"
            )
        else:
            detail = (
                "the stored events cannot be read without a key: the store was written with "
                "CONTINUUM_CIPHER_KEY set; set the same key again"
            )
        raise CipherMismatch(detail) from None


def create_cipher_key() -> str:
    """A new random AES-256 key, base64, for CONTINUUM_CIPHER_KEY."""
    return AESCipher.create_key(CIPHER_KEY_BYTES)
