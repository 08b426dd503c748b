"""Who is calling: the principal every route depends on, from the request's bearer token.

The token is verified with the keys the app factory configured (`app.state.token_verifier`);
a missing, malformed, expired or forged token is refused with 401 before any route runs.
What each role may do is decided in one place, `api.security.authz`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.security.auth_limits import FailedAuthLimiter
from api.security.tokens import Claims, InvalidToken, Role, TokenVerifier

# Documents the scheme in OpenAPI; refusals are ours (401 with our error body), not FastAPI's.
bearer_scheme = HTTPBearer(auto_error=False, description="A JWT: claims sub, role, programs, exp")
# The OpenAPI security requirement of an operation authenticated by `bearer_scheme`.
BEARER_REQUIREMENT: dict[str, list[str]] = {bearer_scheme.scheme_name: []}
# The pages' session cookie: the signed-in token itself (api.pages.session).
SESSION_COOKIE = "continuum_session"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: user or service id, role, and the programs it may see."""

    sub: str
    role: Role
    programs: tuple[str, ...] = ()


# The request's `Authorization: Bearer` credentials, if any (the one dependency node that
# documents the scheme in OpenAPI).
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def current_principal(request: Request, credentials: Credentials) -> Principal:
    """The caller of this request, from its verified `Authorization: Bearer` token."""
    return await principal_of(request, None if credentials is None else credentials.credentials)


async def principal_of(request: Request, token: str | None) -> Principal:
    """The caller presenting `token` (None: no token, 401)."""
    # async: pure CPU and, for a token seen before, a dictionary lookup (TokenVerifier keeps
    # verified tokens); a plain def would cost a threadpool hop on every request.
    verifier: TokenVerifier = request.app.state.token_verifier
    if token is not None and verifier.known(token):
        claims = verifier.verify(token)  # seen before: only its expiry is checked again
    else:
        claims = await _authenticate(request, verifier, token)
    principal = Principal(sub=claims.sub, role=claims.role, programs=claims.programs)
    # The access line names who made each request (an id, never a name or the token).
    request.state.principal_sub = principal.sub
    return principal


async def _authenticate(request: Request, verifier: TokenVerifier, token: str | None) -> Claims:
    """Verify a token not seen before, counting failures against the caller's address."""
    limiter: FailedAuthLimiter = request.app.state.auth_limiter
    address = request.client.host if request.client else "unknown"
    limiter.check(address)
    try:
        if token is None:
            raise InvalidToken("a bearer token is required")
        if verifier.fetches_keys:  # a JWKS fetch may wait on the network: off the event loop
            return await anyio.to_thread.run_sync(verifier.verify, token)
        return verifier.verify(token)
    except InvalidToken:
        limiter.failed(address)
        raise
