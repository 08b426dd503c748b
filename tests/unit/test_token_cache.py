"""A verified token is remembered, so repeat requests skip the signature check; expiry is
still judged on every use, and any other string (a tampered token) is checked in full."""

from __future__ import annotations

import time

import jwt
import pytest

from api.security.tokens import LEEWAY_SECONDS, InvalidToken, Role, TokenVerifier, mint_token

SECRET = "token-cache-test-secret-0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    clock = Clock()
    verifier = TokenVerifier(secret=SECRET, clock=clock)
    token = mint_token(SECRET, role=Role.AUDITOR, sub="a-1")
    expires_at = jwt.decode(token, SECRET, algorithms=["HS256"])["exp"]
    assert verifier.verify(token).sub == "a-1"
    assert verifier.verify(token).sub == "a-1"  # from memory

    clock.now = expires_at + LEEWAY_SECONDS + 1
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)


def test_a_tampered_copy_of_a_remembered_token_is_refused() -> None:
    verifier = TokenVerifier(secret=SECRET)
    token = mint_token(SECRET, role=Role.CLINICIAN, sub="c-1", programs=["p"])
    verifier.verify(token)
    header, payload, signature = token.split(".")
    forged_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(InvalidToken):
        verifier.verify(f"{header}.{payload}.{forged_signature}")
    other_secret = mint_token("another-secret-0123456789abcdef-xyz", role=Role.ADMIN, sub="c-1")
    with pytest.raises(InvalidToken):
        verifier.verify(other_secret)
