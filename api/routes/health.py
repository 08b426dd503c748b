"""Liveness, readiness and metrics: open without a token, free of participant data.

- `/livez`: the process serves HTTP (a restart is the remedy when it does not);
- `/readyz`: the event store answers and the views are within CONTINUUM_READY_MAX_LAG_SECONDS
  of the log and not stopped at an event they cannot apply (a load balancer sends no traffic
  until then); `/healthz` is the store check alone, kept for existing probes;
- `/metrics`: Prometheus text (api.http.metrics).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.http.dependencies import Application
from api.http.metrics import LagCollector, exposition
from api.logging import get_logger
from api.schemas.participants import Health
from api.storage.views import Views

router = APIRouter(tags=["health"])

log = get_logger(__name__)

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Health, "description": "The event store does not answer"}
}


class Live(BaseModel):
    status: str = Field(description="`ok` whenever the process answers", examples=["ok"])


class Ready(BaseModel):
    status: str = Field(
        description="`ok`, or `unavailable` with the failed `checks`", examples=["ok"]
    )
    checks: dict[str, str] = Field(
        description="Each check's outcome: `store`, `views` (`ok`, `behind`, `stalled`, ...)",
        examples=[{"store": "ok", "views": "ok"}],
    )
    view_position: int | None = Field(
        None, description="Log position the views include", examples=[1042]
    )
    log_head_position: int | None = Field(
        None, description="Position of the last event", examples=[1042]
    )
    view_lag_seconds: float | None = Field(
        None, description="Age of the oldest event the views have not applied", examples=[0.0]
    )


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


@router.get("/livez", response_model=Live)
async def livez() -> Live:
    """200 while the process serves requests (no store access: a database outage must not
    make an orchestrator restart every healthy server)."""
    return Live(status="ok")


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "Not ready: `checks` says why"}},
)
def readyz(request: Request, response: Response) -> Ready:
    """200 when the store answers and the views follow the log closely enough, else 503."""
    views: Views = request.app.state.views
    max_lag: int = request.app.state.settings.ready_max_lag_seconds
    try:
        lag = views.lag()
    except Exception as exc:
        log.warning("not_ready", check="store", error_type=type(exc).__qualname__)
        response.status_code = 503
        return Ready(
            status="unavailable",
            checks={"store": "unavailable", "views": "unknown"},
            view_position=None,
            log_head_position=None,
            view_lag_seconds=None,
        )
    checks = {"store": "ok", "views": "ok"}
    if views.runner.stalled is not None:
        checks["views"] = "stalled"
    elif lag.seconds > max_lag:
        checks["views"] = "behind"
    ready = all(value == "ok" for value in checks.values())
    if not ready:
        response.status_code = 503
    return Ready(
        status="ok" if ready else "unavailable",
        checks=checks,
        view_position=lag.view_position,
        log_head_position=lag.head_position,
        view_lag_seconds=round(lag.seconds, 3),
    )


_METRICS_EXAMPLE = """\
# HELP continuum_view_lag_events Log positions between the views and the head
# TYPE continuum_view_lag_events gauge
continuum_view_lag_events 0.0
"""


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": _METRICS_EXAMPLE}},
        }
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition: every worker's counters, the views' position and lag."""
    views: Views = request.app.state.views
    relays = request.app.state.feed.log.checkpoint_positions
    body, content_type = await run_in_threadpool(exposition, LagCollector(views.lag, relays))
    return Response(content=body, media_type=content_type)
