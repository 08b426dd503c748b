"""Bearer tokens: the claims Continuum reads, how they are verified, and dev tokens.

A token is a JWT with `exp`, `sub` (user or service id), `role` and, for clinicians, `programs`.
Each configured key is tied to one algorithm (the shared secret to HS256, the public key or an
identity provider's JWKS to RS256): the token's header never chooses how it is checked, so
`alg: none` and HS/RS confusion (an HS256 token "signed" with the public key) are refused.

With a JWKS URL the RS256 key is the one the token's `kid` names in the provider's key set
(PyJWT's PyJWKClient): a `kid` not in the cached set fetches the set again, so a provider's
key rotation needs no restart. With an issuer or audience configured, `iss` / `aud` must match.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeGuard

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from api.settings import SettingsError

# Clocks of token issuers and this service may disagree by a few seconds.
LEEWAY_SECONDS = 30
MAX_PROGRAMS = 200
MAX_CLAIM_LENGTH = 200
# Verified tokens remembered, so a client's every request does not re-parse and re-check the
# same signature (PyJWT spent ~1 ms a request on it): a few per user and service at once.
VERIFIED_TOKENS_KEPT = 1024
_TTL = re.compile(r"(\d{1,6})([smhd]?)")
_TTL_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Role(StrEnum):
    CLINICIAN = "clinician"
    AUDITOR = "auditor"
    INTEGRATOR = "integrator"
    ADMIN = "admin"


_ROLE_NAMES = frozenset(role.value for role in Role)


@dataclass(frozen=True)
class Claims:
    """What a verified token says about its bearer."""

    sub: str
    role: Role
    programs: tuple[str, ...]


class InvalidToken(Exception):
    """The token is missing, malformed, expired, forged or lacks a claim.

    `reason` is a fixed phrase: it never quotes the token or its claims.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenKeyError(SettingsError):
    """A configured verification key is unusable."""


class TokenKeysUnavailable(Exception):
    """The identity provider's key set could not be fetched: the token cannot be judged (503)."""


# How long fetched JWKS keys are kept, and the least time between two fetches a token with an
# unknown `kid` may cause (PyJWKClient's defaults: a flood of made-up kids cannot flood the
# identity provider).
JWKS_LIFESPAN_SECONDS = 300.0
JWKS_REFRESH_COOLDOWN_SECONDS = 30.0
JWKS_TIMEOUT_SECONDS = 5.0


class TokenVerifier:
    """Checks signatures, expiry and claims with the keys configured at start."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        public_key_pem: str | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        jwks_refresh_cooldown: float = JWKS_REFRESH_COOLDOWN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._jwks: jwt.PyJWKClient | None = None
        self._issuer = issuer
        self._audience = audience
        if secret:
            self._keys["HS256"] = secret
        if public_key_pem and jwks_url:
            raise TokenKeyError(
                "set CONTINUUM_JWT_PUBLIC_KEY or CONTINUUM_JWT_JWKS_URL, not both "
                "(both verify RS256)"
            )
        if public_key_pem:
            self._keys["RS256"] = _rsa_public_key(public_key_pem)
        if jwks_url:
            self._jwks = jwt.PyJWKClient(
                jwks_url,
                cache_keys=True,
                lifespan=JWKS_LIFESPAN_SECONDS,
                timeout=JWKS_TIMEOUT_SECONDS,
                cooldown_duration=jwks_refresh_cooldown,
            )
            self._keys["RS256"] = self._jwks
        if not self._keys:
            raise TokenKeyError("a token verifier needs a secret, a public key or a JWKS URL")
        self._verified: OrderedDict[str, tuple[Claims, float]] = OrderedDict()
        self._verified_lock = threading.Lock()

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @property
    def fetches_keys(self) -> bool:
        """True when verifying an unseen token may wait on the network (a JWKS fetch)."""
        return self._jwks is not None

    def known(self, token: str) -> bool:
        """Whether `token` was verified before (so verifying it again does no I/O)."""
        with self._verified_lock:
            return token in self._verified

    def verify(self, token: str) -> Claims:
        """The token's claims, if its signature, expiry and claims hold.

        A token verified before is not parsed again: its keys are fixed for this verifier's
        life and a signature, once good, stays good; only its expiry is checked again.
        """
        with self._verified_lock:
            found = self._verified.get(token)
            if found is not None:
                self._verified.move_to_end(token)
        if found is not None:
            claims, expires_at = found
            if self._clock() > expires_at + LEEWAY_SECONDS:
                raise InvalidToken("the token has expired")
            return claims
        claims, expires_at = self._verify_signed(token)
        with self._verified_lock:
            self._verified[token] = (claims, expires_at)
            self._verified.move_to_end(token)
            while len(self._verified) > VERIFIED_TOKENS_KEPT:
                self._verified.popitem(last=False)
        return claims

    def _verify_signed(self, token: str) -> tuple[Claims, float]:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise InvalidToken("the token is malformed") from None
        if not isinstance(algorithm, str) or algorithm not in self._keys:
            raise InvalidToken("the token's algorithm is not accepted")
        key = self._keys[algorithm]
        if isinstance(key, jwt.PyJWKClient):
            key = _signing_key(key, token)
        required = ["exp", "sub", "role"]
        required += ["iss"] if self._issuer else []
        required += ["aud"] if self._audience else []
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                options={"require": required},
                leeway=LEEWAY_SECONDS,
                issuer=self._issuer,
                audience=self._audience,
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.MissingRequiredClaimError:
            raise InvalidToken("the token lacks a required claim") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token's issuer is not accepted") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the token's audience is not accepted") from None
        except jwt.PyJWTError:
            raise InvalidToken("the token is invalid") from None
        return _claims(claims), float(claims["exp"])


def _signing_key(jwks: jwt.PyJWKClient, token: str) -> Any:
    try:
        return jwks.get_signing_key_from_jwt(token).key
    except jwt.PyJWKClientConnectionError:
        raise TokenKeysUnavailable("the identity provider's key set could not be fetched") from None
    except (jwt.PyJWKClientError, jwt.DecodeError):
        raise InvalidToken(
            "the token's signing key is not in the identity provider's set"
        ) from None


def _rsa_public_key(pem: str) -> RSAPublicKey:
    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError) as error:
        raise TokenKeyError(f"CONTINUUM_JWT_PUBLIC_KEY is not a PEM public key: {error}") from None
    if not isinstance(key, RSAPublicKey):
        raise TokenKeyError("CONTINUUM_JWT_PUBLIC_KEY must be an RSA public key (RS256)")
    return key


def _claims(claims: dict[str, Any]) -> Claims:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= MAX_CLAIM_LENGTH:
        raise InvalidToken("the token's sub claim is invalid")
    role_claim = claims.get("role")
    if not isinstance(role_claim, str) or role_claim not in _ROLE_NAMES:
        raise InvalidToken("the token's role claim is invalid")
    role = Role(role_claim)
    programs = claims.get("programs")
    if programs is None and role is not Role.CLINICIAN:
        programs = []  # only clinicians are scoped to programs
    if not _is_program_list(programs):
        raise InvalidToken("the token's programs claim is missing or invalid")
    return Claims(sub=sub, role=role, programs=tuple(programs))


def _is_program_list(value: object) -> TypeGuard[list[str]]:
    return (
        isinstance(value, list)
        and len(value) <= MAX_PROGRAMS
        and all(isinstance(p, str) and 0 < len(p) <= MAX_CLAIM_LENGTH for p in value)
    )


def mint_token(
    secret: str,
    *,
    role: Role | str,
    sub: str,
    programs: Sequence[str] = (),
    ttl: timedelta = timedelta(hours=8),
    now: datetime | None = None,
) -> str:
    """An HS256 token for a dev or test caller (production tokens come from an identity
    provider)."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": sub,
        "role": str(Role(role)),
        "programs": list(programs),
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def parse_ttl(text: str) -> timedelta:
    """`90` or `90s`, `30m`, `8h`, `2d` -> a positive duration."""
    match = _TTL.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"a lifetime such as 30m, 8h or 2d; got {text!r}")
    return timedelta(seconds=int(match.group(1)) * _TTL_UNITS[match.group(2)])


# The callers `continuum serve` mints tokens for in demo mode (programs of api.seed.demo's cohort).
DEMO_PROGRAMS = ("riverside-iop", "harbor-php")
DEMO_CALLERS: tuple[tuple[Role, str, tuple[str, ...]], ...] = (
    (Role.CLINICIAN, "demo-clinician", DEMO_PROGRAMS),
    (Role.AUDITOR, "demo-auditor", ()),
    (Role.INTEGRATOR, "demo-integrator", ()),
)


def demo_tokens(secret: str, *, ttl: timedelta = timedelta(hours=8)) -> dict[Role, str]:
    """A token for each demo caller, signed with `secret`."""
    return {
        role: mint_token(secret, role=role, sub=sub, programs=programs, ttl=ttl)
        for role, sub, programs in DEMO_CALLERS
    }
