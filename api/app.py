"""The app factory: one ContinuumApplication per app, opened on creation, closed on shutdown.

The demo cohort is not loaded here: `continuum serve` (api.cli) decides that, on an empty store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.logging import configure_logging, get_logger
from api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from api.routes import health, participants
from api.settings import Settings
from api.store import parse_store_url
from domain.application import ContinuumApplication

log = get_logger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A FastAPI app serving the v1 contract over the store `settings.database_url` names."""
    settings = settings or Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    store = parse_store_url(settings.database_url)
    application = ContinuumApplication(env=store.settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            log.info("started", store=store.display)
            yield
        finally:
            application.close()
            log.info("stopped")

    app = FastAPI(
        title="Continuum",
        version="1",
        summary="Each participant's journey through levels of addiction treatment care",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.application = application
    install_error_handlers(app)
    # Added last runs first: the request id and access line wrap the body limit's 413 too.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(participants.router)
    return app


__all__ = ["create_app"]
