"""The clinicians' pages: sign-in, caseloads, a participant's record, the recording forms and
the "as known at" view. Same roles, program scope, commands and access log as the API.

Reads and writes touch the synchronous library, so they run in the thread pool; only reading
a submitted form is async.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.pages import recording, records, signin

router = APIRouter(include_in_schema=False)
router.include_router(signin.router)
router.include_router(records.router)
router.include_router(recording.router)
