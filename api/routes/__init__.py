"""HTTP routers, one per resource."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path

from api.http.reads import PARTICIPANT_ID_DESCRIPTION

# A participant named in a route's path: anything but a UUID is answered 422 naming it.
ParticipantId = Annotated[UUID, Path(description=PARTICIPANT_ID_DESCRIPTION)]
