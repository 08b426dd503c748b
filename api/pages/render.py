"""Rendering: the Jinja2 environment, the pages' security headers, HTML error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.pages.model import hours_minutes
from api.pages.session import Session

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["hm"] = hours_minutes

# No inline script or style anywhere, so the policy can forbid both; records are never cached.
# connect-src 'self': a signed-in browser may open this site's event stream (docs/events.md).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    session: Session | None = None,
    status: int = 200,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        template,
        {"session": session, **context},
        status_code=status,
        headers=SECURITY_HEADERS,
    )
    return response


def redirect(url: str) -> RedirectResponse:
    """POST-redirect-GET and sign-in redirects (303: the browser follows with GET)."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def error_page(
    request: Request, status: int, title: str, detail: str, session: Session | None = None
) -> HTMLResponse:
    request.state.error = f"page_{status}"
    return render(
        request, "error.html", {"title": title, "detail": detail}, session=session, status=status
    )
