"""Sign-in and sign-out: a token pasted into the form (or, in demo mode, a link) opens a session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.pages.context import PageSession, demo_links
from api.pages.render import redirect, render
from api.pages.session import (
    CSRF_FIELD,
    check_csrf,
    check_signin_csrf,
    clear_session,
    set_session,
    set_signin_csrf,
    signin_csrf,
    verify_token,
)
from api.security.authz import Action, may
from api.security.tokens import InvalidToken

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return redirect("/caseload" if request.cookies.get("continuum_session") else "/signin")


def _signin_form(
    request: Request, *, error: str | None = None, notice: str | None = None, status: int = 200
) -> HTMLResponse:
    csrf = signin_csrf(request)
    response = render(
        request,
        "signin.html",
        {"csrf": csrf, "error": error, "notice": notice, "demo": demo_links(request)},
        status=status,
    )
    set_signin_csrf(request, response, csrf)
    return response


def _sign_in(request: Request, token: str, next_page: str = "/caseload") -> Response:
    try:
        principal = verify_token(request, token)
    except InvalidToken as refused:
        return _signin_form(
            request, error=f"That token was not accepted: {refused.reason}.", status=401
        )
    if not may(principal, Action.READ_RECORD):
        return _signin_form(
            request,
            error=f"The role {principal.role} cannot use these pages (it reads no records).",
            status=403,
        )
    response = redirect(next_page)
    set_session(request, response, token)
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_page(
    request: Request,
    token: Annotated[str | None, Query(max_length=8192)] = None,
    signed_out: bool = False,
    next_page: Annotated[
        str, Query(alias="next", max_length=200, pattern=r"^/[A-Za-z0-9/_-]*$")
    ] = "/caseload",
) -> Response:
    """The sign-in form; in demo mode, `?token=` signs in at once (the links serve prints)
    and goes on to `?next=` (a path of this site only: never another host)."""
    if token is not None and demo_links(request):
        return _sign_in(request, token, "/caseload" if next_page.startswith("//") else next_page)
    return _signin_form(request, notice="You are signed out." if signed_out else None)


@router.post("/signin", response_class=HTMLResponse)
async def signin_submit(request: Request) -> Response:
    form = await request.form()
    check_signin_csrf(request, form.get(CSRF_FIELD))
    token = form.get("token")
    return _sign_in(request, token.strip() if isinstance(token, str) else "")


@router.post("/signout", response_class=HTMLResponse)
async def signout(request: Request, session: PageSession) -> Response:
    form = await request.form()
    check_csrf(request, session, form.get(CSRF_FIELD))
    response = redirect("/signin?signed_out=true")
    clear_session(request, response)
    return response
