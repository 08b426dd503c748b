"""HTTP routers, one per resource."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path

# A participant named in a route's path: anything but a UUID is answered 422 naming it.
ParticipantId = Annotated[UUID, Path(description="The participant's id (a UUID)")]
