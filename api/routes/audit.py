"""Audit endpoints: the access log of record reads, for auditors and admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.http.reads import get_access_log
from api.schemas.reply import Reply
from api.security.authz import Auditor
from api.storage.access_log import MAX_PAGE, AccessLog

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AccessEntryBody(Reply):
    """One read of one participant's record."""

    id: int
    at: datetime
    sub: str
    role: str
    participant_id: UUID
    record: str
    endpoint: str
    purpose: str
    request_id: str | None


class AccessLogPage(BaseModel):
    """Entries oldest first; pass `next_after` as `after` for the next page (null: no more)."""

    entries: list[AccessEntryBody]
    next_after: int | None


@router.get("/access-log", response_model=AccessLogPage)
def read_access_log(
    principal: Auditor,
    access_log: Annotated[AccessLog, Depends(get_access_log)],
    participant_id: Annotated[UUID | None, Query(description="Only this participant")] = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="An entry id: start after it")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AccessLogPage:
    """Who read which participant's record, when, through which endpoint, and why."""
    entries = access_log.entries(participant_id=participant_id, after=after, limit=limit)
    # A full page may have more behind it; a short page is the end (for now).
    next_after = entries[-1].id if len(entries) == limit else None
    return AccessLogPage(entries=[AccessEntryBody.read(e) for e in entries], next_after=next_after)
