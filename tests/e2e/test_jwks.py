"""Tokens from an identity provider: keys from its JWKS by `kid` (rotation without restart),
`iss` / `aud` checks, and the limit on failed authentications per address.

The provider is a real HTTP server on 127.0.0.1 serving a JWKS document the test can change.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.security.auth_limits import FailedAuthLimiter, TooManyFailedAuthentications
from api.security.tokens import InvalidToken, TokenVerifier
from api.settings import Settings
from tests.e2e.support import build_app, token

UNKNOWN = "/v1/participants/00000000-0000-4000-8000-000000000000"
ISSUER = "https://idp.example.test/realms/continuum"
AUDIENCE = "continuum-api"


class KeySet:
    """The JWKS the local provider serves; `keys` may be replaced while it runs."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0

    def add(self, kid: str) -> rsa.RSAPrivateKey:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.keys[kid]

    def document(self) -> bytes:
        jwks = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            jwks.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return json.dumps({"keys": jwks}).encode()


@pytest.fixture
def provider() -> Iterator[tuple[str, KeySet]]:
    """A JWKS endpoint on 127.0.0.1 (an ephemeral port), stopped after the test."""
    key_set = KeySet()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            key_set.fetches += 1
            body = key_set.document()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", key_set
    finally:
        server.shutdown()
        server.server_close()


def _token(key: rsa.RSAPrivateKey, kid: str, **claims: Any) -> str:
    body = {
        "sub": "svc-1",
        "role": "admin",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int((datetime.now(UTC) + timedelta(minutes=5)).timestamp()),
        **claims,
    }
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, "RS256", {"kid": kid})


def _verifier(url: str, **kw: Any) -> TokenVerifier:
    return TokenVerifier(jwks_url=url, jwks_refresh_cooldown=0, **kw)


def test_a_token_is_checked_with_the_key_its_kid_names(provider: tuple[str, KeySet]) -> None:
    """Given a provider with key k1, a token signed by k1 passes; one signed by another key
    under the same kid, or naming a kid the provider does not have, is refused."""
    url, keys = provider
    k1 = keys.add("k1")
    verifier = _verifier(url, issuer=ISSUER, audience=AUDIENCE)

    assert verifier.verify(_token(k1, "k1")).sub == "svc-1"
    forged = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken):
        verifier.verify(_token(forged, "k1"))
    with pytest.raises(InvalidToken, match="signing key"):
        verifier.verify(_token(k1, "k9"))


def test_a_rotated_key_is_fetched_without_a_restart(provider: tuple[str, KeySet]) -> None:
    """When the provider rotates to k2, a token naming k2 makes the verifier fetch the set
    again and pass, with no restart."""
    url, keys = provider
    k1 = keys.add("k1")
    verifier = _verifier(url)
    assert verifier.verify(_token(k1, "k1", iss=None, aud=None)).role.value == "admin"
    fetched = keys.fetches

    k2 = keys.add("k2")
    del keys.keys["k1"]
    assert verifier.verify(_token(k2, "k2", iss=None, aud=None)).sub == "svc-1"
    assert keys.fetches == fetched + 1


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://elsewhere.example.test"}, "issuer"),
        ({"iss": None}, "required claim"),
        ({"aud": "another-api"}, "audience"),
        ({"aud": None}, "required claim"),
    ],
)
def test_issuer_and_audience_must_match_when_configured(
    provider: tuple[str, KeySet], claims: dict[str, Any], reason: str
) -> None:
    """With CONTINUUM_JWT_ISSUER and CONTINUUM_JWT_AUDIENCE set, a token from another issuer,
    for another audience, or without either claim is refused."""
    url, keys = provider
    k1 = keys.add("k1")
    verifier = _verifier(url, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(InvalidToken, match=reason):
        verifier.verify(_token(k1, "k1", **claims))


def test_the_app_verifies_with_the_configured_jwks(provider: tuple[str, KeySet]) -> None:
    """Settings from the environment (CONTINUUM_JWT_JWKS_URL, _ISSUER, _AUDIENCE) reach the
    app: a provider's token passes, a wrong audience answers 401."""
    url, keys = provider
    k1 = keys.add("k1")
    settings = Settings.from_env(
        {
            "CONTINUUM_DATABASE_URL": "memory://",
            "CONTINUUM_DEMO": "0",
            "CONTINUUM_TIMEZONE": "America/Chicago",
            "CONTINUUM_JWT_JWKS_URL": url,
            "CONTINUUM_JWT_ISSUER": ISSUER,
            "CONTINUUM_JWT_AUDIENCE": AUDIENCE,
            "CONTINUUM_LOG_FORMAT": "console",
        }
    )
    with TestClient(create_app(settings)) as client:
        good = client.get(UNKNOWN, headers={"Authorization": f"Bearer {_token(k1, 'k1')}"})
        assert good.status_code == 404
        wrong = _token(k1, "k1", aud="another-api")
        assert client.get(UNKNOWN, headers={"Authorization": f"Bearer {wrong}"}).status_code == 401


def test_an_unreachable_provider_is_503_not_401() -> None:
    """With the provider down, a token cannot be judged: 503 with Retry-After, not 401."""
    settings = Settings(
        database_url="memory://",
        demo=False,
        log_format="console",
        jwt_jwks_url="http://127.0.0.1:9/jwks.json",  # the discard port: nothing listens
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with TestClient(create_app(settings)) as client:
        response = client.get(UNKNOWN, headers={"Authorization": f"Bearer {_token(key, 'k1')}"})
    assert response.status_code == 503
    assert response.json()["error"] == "token_keys_unavailable"
    assert "Retry-After" in response.headers


def test_failed_authentications_are_limited_per_address() -> None:
    """After CONTINUUM_AUTH_FAILURE_LIMIT failures within the window, the address is answered
    429 with Retry-After, even with a good new token; a token verified before still passes."""
    app = build_app("memory://")
    limiter = FailedAuthLimiter(3, 60)
    app.state.auth_limiter = limiter

    known = token()
    with TestClient(app) as client:
        assert client.get(UNKNOWN, headers={"Authorization": f"Bearer {known}"}).status_code == 404
        for _ in range(3):
            bad = client.get(UNKNOWN, headers={"Authorization": "Bearer not-a-token"})
            assert bad.status_code == 401
        limited = client.get(UNKNOWN, headers={"Authorization": f"Bearer {token(sub='new')}"})
        assert limited.status_code == 429
        assert limited.json()["error"] == "too_many_failed_authentications"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert client.get(UNKNOWN, headers={"Authorization": f"Bearer {known}"}).status_code == 404


def test_the_limit_lifts_when_failures_leave_the_window() -> None:
    """The limiter forgets failures older than its window (a fake clock, no waiting)."""
    now = [1000.0]
    limiter = FailedAuthLimiter(2, 60, clock=lambda: now[0])
    limiter.failed("10.0.0.1")
    limiter.failed("10.0.0.1")
    with pytest.raises(TooManyFailedAuthentications) as refused:
        limiter.check("10.0.0.1")
    assert refused.value.retry_after_seconds == 60
    limiter.check("10.0.0.2")  # another address is not limited
    now[0] += 61
    limiter.check("10.0.0.1")
