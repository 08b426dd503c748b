"""The pages' session: the bearer token itself, in an HttpOnly, SameSite=Strict cookie.

Choice: the cookie holds the JWT the user signed in with, nothing else, and nothing is kept
on the server. Every request verifies it exactly as the API verifies `Authorization: Bearer`
(`app.state.token_verifier`), so expiry, keys and claims have one implementation, a restart
or a second worker needs no shared session store, and sign-out simply clears the cookie (the
token itself stays valid until its `exp`, as it would in an API client). The cookie is Secure
when the page is served over https and lives no longer than the token.

CSRF: every form carries a token bound to the session, HMAC(key, session cookie). A page of
another site can neither read the cookie nor compute the HMAC. The sign-in form, which has no
session yet, uses a double-submit cookie (a random value in a SameSite=Strict cookie and the
same value in the form). The HMAC key is derived from the JWT secret when there is one, so
several workers agree; with only an RS256 public key it is random per process (a restart then
asks open forms to be submitted again).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from fastapi import Request, Response

from api.security.identity import SESSION_COOKIE as SESSION_COOKIE
from api.security.identity import Principal
from api.security.tokens import InvalidToken, TokenVerifier

SIGNIN_CSRF_COOKIE = "continuum_signin_csrf"
CSRF_FIELD = "csrf_token"
MAX_TOKEN_LENGTH = 8192


class PageRefusal(Exception):
    """A page request that is refused: rendered as an HTML error page with `status`."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "sign in")
        self.reason = reason


@dataclass(frozen=True)
class Session:
    """A signed-in user of the pages: who, and the CSRF token its forms carry."""

    principal: Principal
    token: str
    csrf_token: str


def csrf_key(jwt_secret: str | None) -> bytes:
    """The key of the session-bound CSRF tokens (see the module docstring)."""
    if jwt_secret:
        return hmac.new(jwt_secret.encode(), b"continuum-pages-csrf-v1", hashlib.sha256).digest()
    return secrets.token_bytes(32)


def _key(request: Request) -> bytes:
    key: bytes = request.app.state.pages_csrf_key
    return key


def session_csrf(request: Request, token: str) -> str:
    return hmac.new(_key(request), token.encode(), hashlib.sha256).hexdigest()


def verify_token(request: Request, token: str) -> Principal:
    """The principal of `token`, verified as the API verifies bearer tokens."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("a token is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    claims = verifier.verify(token)
    return Principal(sub=claims.sub, role=claims.role, programs=claims.programs)


def current_session(request: Request) -> Session:
    """The signed-in user of this request, or SignInRequired."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired()
    try:
        principal = verify_token(request, token)
    except InvalidToken as error:
        raise SignInRequired(error.reason) from None
    request.state.principal_sub = principal.sub  # the access line names who asked
    return Session(principal, token, session_csrf(request, token))


def check_csrf(request: Request, session: Session, submitted: object) -> None:
    """Refuse (403) a form whose CSRF token is missing or not this session's."""
    if not isinstance(submitted, str) or not hmac.compare_digest(submitted, session.csrf_token):
        raise PageRefusal(
            403,
            "Form not accepted",
            "The form could not be verified (missing or stale security token). "
            "Go back, reload the page and submit it again.",
        )


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(request: Request, response: Response, token: str) -> None:
    """Sign in: the token in the session cookie, for no longer than the token lives."""
    max_age = None
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        if isinstance(exp, int | float):
            max_age = max(0, int(exp - datetime.now(UTC).timestamp()))
    except jwt.PyJWTError:
        pass  # verified before this is called; an unreadable exp leaves a browser-session cookie
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )


def signin_csrf(request: Request) -> str:
    """The sign-in form's double-submit value: the cookie's, or a new one."""
    existing = request.cookies.get(SIGNIN_CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing
    return secrets.token_urlsafe(32)


def set_signin_csrf(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        SIGNIN_CSRF_COOKIE,
        value,
        max_age=3600,
        path="/signin",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def check_signin_csrf(request: Request, submitted: object) -> None:
    cookie = request.cookies.get(SIGNIN_CSRF_COOKIE)
    if not cookie or not isinstance(submitted, str) or not hmac.compare_digest(submitted, cookie):
        raise PageRefusal(
            403,
            "Form not accepted",
            "The sign-in form could not be verified. Reload the sign-in page and try again.",
        )
