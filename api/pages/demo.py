"""One-click sign-in links for the demo callers (printed by `continuum serve` in demo mode)."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TextIO
from urllib.parse import quote

from api.security.tokens import DEMO_CALLERS, Role, mint_token

# The demo callers that can use the pages (the integrator reads no records).
LINK_ROLES = (Role.CLINICIAN, Role.AUDITOR)


def sign_in_links(
    base_url: str, secret: str, *, ttl: timedelta = timedelta(hours=8)
) -> list[tuple[Role, str]]:
    """(role, URL) for each demo caller of the pages: /signin?token=... signs in at once."""
    links = []
    for role, sub, programs in DEMO_CALLERS:
        if role in LINK_ROLES:
            token = mint_token(secret, role=role, sub=sub, programs=programs, ttl=ttl)
            links.append((role, f"{base_url}/signin?token={quote(token, safe='')}"))
    return links


def demo_page_link(base_url: str, secret: str, page: str) -> str:
    """A link that signs the demo clinician in and opens `page` (a path of this site)."""
    role, sub, programs = DEMO_CALLERS[0]
    token = mint_token(secret, role=role, sub=sub, programs=programs, ttl=timedelta(hours=8))
    return f"{base_url}/signin?token={quote(token, safe='')}&next={quote(page)}"


def print_sign_in_links(base_url: str, secret: str, out: TextIO | None = None) -> None:
    """The links, to stderr (never to the logs)."""
    stream = out or sys.stderr
    print("Clinicians' pages, one-click demo sign-in (8h):", file=stream)
    for role, url in sign_in_links(base_url, secret):
        print(f"  {role.value:<11} {url}", file=stream)
