"""Liveness and readiness: 200 once the event store answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.http.dependencies import Application
from api.logging import get_logger
from api.schemas.participants import Health

router = APIRouter(tags=["health"])

log = get_logger(__name__)

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Health, "description": "The event store does not answer"}
}


@router.get("/healthz", response_model=Health, responses=_UNAVAILABLE)
def healthz(application: Application, request: Request, response: Response) -> Health:
    """200 when the event store answers a query, 503 when it does not."""
    store: str = request.app.state.store.kind
    try:
        application.recorder.max_notification_id()
    except Exception as exc:  # any failure of the store means "not ready", never a 500
        log.warning("store_unavailable", store=store, error_type=type(exc).__qualname__)
        response.status_code = 503
        return Health(status="unavailable", store=store)
    rejected = application.snapshot_rejections.count
    return Health(status="ok", store=store, snapshots_rejected=rejected)
