"""Authentication: bearer JWTs, verified with a pinned algorithm, required on every route.

Missing, malformed, expired and forged tokens, `alg: none`, algorithm confusion and missing
claims are all 401 with a Bearer challenge; /healthz needs no token. Start-up refuses to run
without a key to verify tokens unless in demo mode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from api.cli.main import main
from api.http.app import create_app
from api.security.tokens import (
    InvalidToken,
    Role,
    TokenVerifier,
    demo_tokens,
    mint_token,
    parse_ttl,
)
from api.settings import DEMO_JWT_SECRET, Settings, SettingsError
from tests.e2e.support import TEST_JWT_SECRET, admission, bearer, build_app

UNKNOWN = "/v1/participants/00000000-0000-0000-0000-000000000001"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_made(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT assembled by hand (HS256 over `key`, or unsigned when `key` is None)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "sub": "someone",
        "role": "admin",
        "programs": [],
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        **overrides,
    }
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def anonymous() -> Iterator[TestClient]:
    """A client of an in-memory app that sends no token unless a test adds one."""
    with TestClient(build_app("memory://")) as client:
        yield client


def _assert_unauthenticated(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_token_is_401_with_a_bearer_challenge(anonymous: TestClient) -> None:
    """Given no Authorization header, reads and writes are 401 with WWW-Authenticate: Bearer,
    and nothing is appended."""
    _assert_unauthenticated(anonymous.get(UNKNOWN))
    _assert_unauthenticated(anonymous.post("/v1/participants", json=admission()))
    _assert_unauthenticated(anonymous.get("/v1/audit/access-log"))

    listed = anonymous.get("/v1/audit/access-log", headers=bearer())
    assert listed.json()["entries"] == []


def test_health_needs_no_token(anonymous: TestClient) -> None:
    """GET /healthz answers without a token (load balancers have none)."""
    assert anonymous.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30",
        f"Token {mint_token(TEST_JWT_SECRET, role='admin', sub='x')}",
    ],
)
def test_malformed_authorization_is_401(anonymous: TestClient, authorization: str) -> None:
    """A header that is not `Bearer <JWT>` is refused with 401."""
    _assert_unauthenticated(anonymous.get(UNKNOWN, headers={"Authorization": authorization}))


def test_expired_token_is_401(anonymous: TestClient) -> None:
    """A token whose `exp` has passed (beyond a small clock leeway) is refused."""
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    expired = mint_token(
        TEST_JWT_SECRET, role="admin", sub="x", ttl=timedelta(minutes=5), now=an_hour_ago
    )

    response = anonymous.get(UNKNOWN, headers={"Authorization": f"Bearer {expired}"})

    _assert_unauthenticated(response)
    assert response.json()["detail"] == "the token has expired"


def test_token_signed_with_another_secret_is_401(anonymous: TestClient) -> None:
    """A token signed with any secret but the service's is forged."""
    forged = mint_token("another-secret-of-the-same-length-0123456789", role="admin", sub="x")

    _assert_unauthenticated(anonymous.get(UNKNOWN, headers={"Authorization": f"Bearer {forged}"}))


def test_unsigned_token_alg_none_is_401(anonymous: TestClient) -> None:
    """`alg: none` (no signature at all) is never accepted, whatever its claims say."""
    for header in ({"alg": "none", "typ": "JWT"}, {"alg": "None"}, {"alg": "NONE"}):
        unsigned = _hand_made(header, _claims(), key=None)
        _assert_unauthenticated(
            anonymous.get(UNKNOWN, headers={"Authorization": f"Bearer {unsigned}"})
        )


def test_tampered_claims_are_401(anonymous: TestClient) -> None:
    """A valid clinician token whose payload is edited to say admin no longer verifies."""
    header, _, signature = mint_token(TEST_JWT_SECRET, role="clinician", sub="x").split(".")
    tampered = f"{header}.{_b64(json.dumps(_claims(role='admin')).encode())}.{signature}"

    _assert_unauthenticated(anonymous.get(UNKNOWN, headers={"Authorization": f"Bearer {tampered}"}))


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(_claims(exp=None), id="no exp"),
        pytest.param(_claims(sub=None), id="no sub"),
        pytest.param(_claims(sub=""), id="empty sub"),
        pytest.param(_claims(sub=7), id="numeric sub"),
        pytest.param(_claims(role=None), id="no role"),
        pytest.param(_claims(role="superuser"), id="unknown role"),
        pytest.param(_claims(role="clinician", programs=None), id="clinician without programs"),
        pytest.param(_claims(programs="riverside-iop"), id="programs not a list"),
        pytest.param(_claims(programs=[1]), id="program not a string"),
        pytest.param(_claims(exp="tomorrow"), id="exp not a number"),
        pytest.param(_claims(nbf=int(datetime.now(UTC).timestamp()) + 3600), id="not yet valid"),
    ],
)
def test_missing_or_invalid_claims_are_401(anonymous: TestClient, claims: dict[str, Any]) -> None:
    """A correctly signed token lacking `exp`, `sub` or `role` (or, for a clinician,
    `programs`), or carrying one of the wrong type, is refused."""
    signed = _hand_made({"alg": "HS256", "typ": "JWT"}, claims, TEST_JWT_SECRET.encode())

    _assert_unauthenticated(anonymous.get(UNKNOWN, headers={"Authorization": f"Bearer {signed}"}))


def test_valid_token_passes(anonymous: TestClient) -> None:
    """A correctly signed admin token gets past authentication (here: to a 404)."""
    response = anonymous.get(UNKNOWN, headers=bearer())

    assert response.status_code == 404


# ---- RS256 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def rs256_app(rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """An app configured, as in production, with only an RS256 public key (a PEM file)."""
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = tmp_path / "jwt.pub.pem"
    path.write_bytes(pem)
    settings = Settings.from_env(
        {
            "CONTINUUM_DATABASE_URL": "memory://",
            "CONTINUUM_DEMO": "0",
            "CONTINUUM_TIMEZONE": "America/Chicago",
            "CONTINUUM_JWT_PUBLIC_KEY": str(path),
            "CONTINUUM_LOG_FORMAT": "console",
        }
    )
    with TestClient(create_app(settings)) as client:
        yield client, pem.decode()


def test_rs256_token_signed_with_the_private_key_passes(
    rs256_app: tuple[TestClient, str], rsa_key: rsa.RSAPrivateKey
) -> None:
    """Given an app with CONTINUUM_JWT_PUBLIC_KEY, a token signed with the matching private key
    is accepted."""
    client, _ = rs256_app
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256")

    assert client.get(UNKNOWN, headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_rs256_refuses_other_keys_and_algorithm_confusion(
    rs256_app: tuple[TestClient, str],
) -> None:
    """Given an RS256-only app: a token signed by another RSA key, an HS256 token (with any
    secret, including the public key's own PEM text: the classic confusion) are 401."""
    client, public_pem = rs256_app
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = [
        jwt.encode(_claims(), other_key, algorithm="RS256"),
        mint_token(TEST_JWT_SECRET, role="admin", sub="x"),
        _hand_made({"alg": "HS256", "typ": "JWT"}, _claims(), public_pem.encode()),
        _hand_made({"alg": "none"}, _claims(), None),
    ]
    for token in tokens:
        _assert_unauthenticated(client.get(UNKNOWN, headers={"Authorization": f"Bearer {token}"}))


def test_verifier_pins_one_algorithm_per_key(rsa_key: rsa.RSAPrivateKey) -> None:
    """The secret verifies HS256 only and the public key RS256 only: an RS256 header on an
    HMAC-signed token, or the reverse, is refused."""
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verifier = TokenVerifier(secret=TEST_JWT_SECRET, public_key_pem=pem.decode())
    lying = _hand_made({"alg": "RS256"}, _claims(), TEST_JWT_SECRET.encode())

    assert verifier.algorithms == ("HS256", "RS256")
    assert verifier.verify(jwt.encode(_claims(), rsa_key, algorithm="RS256")).role is Role.ADMIN
    with pytest.raises(InvalidToken):
        verifier.verify(lying)


# ---- start-up and minting ---------------------------------------------------------------------


def test_refuses_to_start_without_a_key_outside_demo_mode() -> None:
    """Given CONTINUUM_DEMO=0 and neither CONTINUUM_JWT_SECRET nor CONTINUUM_JWT_PUBLIC_KEY, the
    app refuses to start, naming both variables."""
    settings = Settings.from_env(
        {"CONTINUUM_DEMO": "0", "CONTINUUM_TIMEZONE": "UTC", "CONTINUUM_DATABASE_URL": "memory://"}
    )

    with pytest.raises(SettingsError, match=r"CONTINUUM_JWT_SECRET.*CONTINUUM_JWT_PUBLIC_KEY"):
        create_app(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {
                "CONTINUUM_DEMO": "0",
                "CONTINUUM_TIMEZONE": "UTC",
                "CONTINUUM_JWT_SECRET": DEMO_JWT_SECRET,
            },
            "published demo",
        ),
        ({"CONTINUUM_JWT_SECRET": "short"}, "at least 32"),
        ({"CONTINUUM_JWT_PUBLIC_KEY": "/nonexistent/key.pem"}, "CONTINUUM_JWT_PUBLIC_KEY"),
    ],
)
def test_unusable_token_settings_stop_the_start(env: dict[str, str], message: str) -> None:
    """The published demo secret outside demo mode, a short secret, or an unreadable public key
    file are refused when the settings are read."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_a_public_key_file_that_is_not_rsa_stops_the_start(tmp_path: Path) -> None:
    """A CONTINUUM_JWT_PUBLIC_KEY file holding no RSA public key stops the app factory."""
    path = tmp_path / "bad.pem"
    path.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    settings = Settings.from_env(
        {
            "CONTINUUM_DEMO": "0",
            "CONTINUUM_TIMEZONE": "America/Chicago",
            "CONTINUUM_DATABASE_URL": "memory://",
            "CONTINUUM_JWT_PUBLIC_KEY": str(path),
        }
    )

    with pytest.raises(SettingsError, match="CONTINUUM_JWT_PUBLIC_KEY"):
        create_app(settings)


def test_demo_mode_uses_the_published_secret_and_warns(capsys: pytest.CaptureFixture[str]) -> None:
    """Given demo mode and no secret, the app starts with the published demo secret, logs a
    warning, and accepts the demo tokens `continuum serve` prints."""
    settings = Settings.from_env({"CONTINUUM_DATABASE_URL": "memory://"})
    app = create_app(settings)  # configures logging to the stdout capsys holds
    tokens = demo_tokens(DEMO_JWT_SECRET)

    assert "demo_jwt_secret" in capsys.readouterr().out
    with TestClient(app) as client:
        clinician = {"Authorization": f"Bearer {tokens[Role.CLINICIAN]}"}
        assert client.get(UNKNOWN, headers=clinician).status_code == 404
        auditor = {"Authorization": f"Bearer {tokens[Role.AUDITOR]}"}
        assert client.get("/v1/audit/access-log", headers=auditor).status_code == 200


def test_token_command_mints_a_token_the_service_accepts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`continuum token --role clinician --sub S --program P --program P2 --ttl 2h` prints a
    token signed with CONTINUUM_JWT_SECRET carrying exactly those claims."""
    monkeypatch.setenv("CONTINUUM_JWT_SECRET", TEST_JWT_SECRET)
    monkeypatch.setenv("CONTINUUM_DEMO", "0")
    monkeypatch.setenv("CONTINUUM_TIMEZONE", "America/Chicago")

    code = main(
        [
            "token",
            "--role",
            "clinician",
            "--sub",
            "u-17",
            "--program",
            "riverside-iop",
            "--program",
            "harbor-php",
            "--ttl",
            "2h",
        ]
    )

    token = capsys.readouterr().out.strip()
    claims = TokenVerifier(secret=TEST_JWT_SECRET).verify(token)
    raw = jwt.decode(token, TEST_JWT_SECRET, algorithms=["HS256"])
    assert code == 0
    assert (claims.sub, claims.role, claims.programs) == (
        "u-17",
        Role.CLINICIAN,
        ("riverside-iop", "harbor-php"),
    )
    assert raw["exp"] - raw["iat"] == 2 * 3600


def test_token_command_refuses_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside demo mode and without CONTINUUM_JWT_SECRET, `continuum token` exits 2."""
    monkeypatch.delenv("CONTINUUM_JWT_SECRET", raising=False)
    monkeypatch.setenv("CONTINUUM_DEMO", "0")
    monkeypatch.setenv("CONTINUUM_TIMEZONE", "America/Chicago")

    assert main(["token", "--role", "admin", "--sub", "x"]) == 2


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("8h", 28800), ("2d", 172800)]
)
def test_ttl_spellings(text: str, seconds: int) -> None:
    """Token lifetimes are seconds, or a number with s, m, h or d."""
    assert parse_ttl(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0", "-5m", "8w", "h"])
def test_ttl_refuses_nonsense(text: str) -> None:
    """A lifetime that is zero, negative or in an unknown unit is refused."""
    with pytest.raises(ValueError):
        parse_ttl(text)
