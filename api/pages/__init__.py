"""Server-rendered pages for clinicians and auditors, served by the API's own app.

`install_pages(app)` adds the routes (api.pages.routes), the stylesheet under /static, and
the HTML error pages of the pages' own refusals. Templates live in api/pages/templates/.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from api.pages.render import STATIC_DIR, error_page, redirect
from api.pages.routes import router
from api.pages.session import PageRefusal, SignInRequired, csrf_key, current_session


def install_pages(app: FastAPI) -> None:
    """Serve the pages from `app` (after its state is set: it reads the settings).

    A token is only ever taken from the sign-in form's POST body, unless
    `enable_demo_sign_in` (demo mode) allows the one-click links `continuum serve` prints.
    """
    settings = app.state.settings
    app.state.pages_csrf_key = csrf_key(settings.jwt_secret)
    app.state.pages_demo_sign_in = False
    app.add_exception_handler(PageRefusal, _refused)
    app.add_exception_handler(SignInRequired, _sign_in_first)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="pages_static")
    app.include_router(router)
    _keep_tokens_out_of_access_lines()


def enable_demo_sign_in(app: FastAPI) -> None:
    """Let `/signin?token=` sign in at once (demo mode only: the token is in the URL)."""
    app.state.pages_demo_sign_in = True


def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefusal)
    try:
        session = current_session(request)
    except SignInRequired:
        session = None
    return error_page(request, exc.status, exc.title, exc.detail, session)


def _sign_in_first(request: Request, exc: Exception) -> Response:
    request.state.error = "sign_in_required"
    return redirect("/signin")


class _RedactSignInQuery(logging.Filter):
    """uvicorn's access line quotes the query string: never let a demo link's token in."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2]
            if path.startswith("/signin?"):
                record.args = (*args[:2], "/signin?<redacted>", *args[3:])
        return True


def _keep_tokens_out_of_access_lines() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactSignInQuery) for f in access.filters):
        access.addFilter(_RedactSignInQuery())


__all__ = ["enable_demo_sign_in", "install_pages"]
