"""Who is calling: the principal every route depends on.

For now every request acts as one fixed demo clinician; JWT verification replaces
`current_principal` later without touching the routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

DEMO_PRINCIPAL_SUB = "demo-clinician"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: user or service id, role, and the programs it may see."""

    sub: str
    role: str
    programs: tuple[str, ...] = ()


DEMO_PRINCIPAL = Principal(sub=DEMO_PRINCIPAL_SUB, role="clinician", programs=())


def current_principal(request: Request) -> Principal:
    """The caller of this request (fixed demo clinician until token auth lands)."""
    principal = DEMO_PRINCIPAL
    # The access log names who made each request (an id, never a name).
    request.state.principal_sub = principal.sub
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
