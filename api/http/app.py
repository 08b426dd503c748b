"""The app factory: one store per app (opened by api.bootstrap on creation), closed on shutdown.

The demo cohort is not loaded here: `continuum serve` (api.cli.main) decides that, on an
empty store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.bootstrap import open_service
from api.http.errors import install_error_handlers
from api.http.metrics import appended, forget_process_metrics
from api.http.middleware import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    RequestTimeoutMiddleware,
)
from api.http.openapi import install_openapi, operation_id
from api.http.timeline_cache import ComplianceCache, TimelineCache
from api.logging import configure_logging, get_logger
from api.pages import install_pages
from api.routes import audit, audit_replay, consents, events, fhir, health, participants, records
from api.routes import views as view_routes
from api.security.auth_limits import FailedAuthLimiter
from api.security.authz import AUTH_RESPONSES
from api.security.tokens import TokenVerifier
from api.settings import Settings
from api.storage.read_gate import read_gate_for
from api.storage.views import WakeViewsOnWrite

log = get_logger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A FastAPI app serving the v1 contract over the store `settings.database_url` names."""
    settings = settings or Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    # No key to verify tokens: refuse to start, unless in demo mode (the published dev secret).
    settings = settings.with_token_keys()
    verifier = TokenVerifier(
        secret=settings.jwt_secret,
        public_key_pem=settings.jwt_public_key,
        jwks_url=settings.jwt_jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    if settings.uses_demo_secret:
        log.warning("demo_jwt_secret", detail="tokens are checked with the PUBLISHED demo secret")
    service = open_service(settings)
    service.application.on_appended = appended
    if service.role is not None and service.role.superuser:
        # A superuser can disable any guard; `continuum db-setup` makes a runtime role.
        log.warning("database_superuser", role=service.role.name, fix="continuum db-setup")
    try:
        store, application = service.store, service.application
        access_log, feed, views = service.access_log, service.feed, service.views
        read_gate = read_gate_for(application.recorder, access_log, views.store)
    except BaseException:
        service.close()
        raise

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            # Catch up before serving, then follow (LISTEN wake-ups on PostgreSQL, and polls).
            views.start()
            log.info("started", store=store.display, view_position=views.store.position())
            yield
        finally:
            if read_gate is not None:
                await read_gate.close()
            views.stop()
            application.close()
            forget_process_metrics()
            log.info("stopped")

    app = FastAPI(
        title="Continuum",
        version="1",
        summary="Each participant's journey through levels of addiction treatment care",
        lifespan=lifespan,
        # Served from packaged files by install_openapi, never from a CDN.
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        # FastAPI's own OpenTelemetry signals stay off, whatever the environment says
        # (FASTAPI_OTEL_AUTO_CONFIGURE): its logs signal exports exception messages and stack
        # traces, which may quote a participant's record (HIPAA 45 CFR 164.312(b) audits who
        # sees records; our lines carry ids only), and asking whether any signal is on cost
        # every request ~10 us of provider lookups. Our metrics are api.http.metrics'.
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    app.state.settings = settings
    app.state.store = store
    app.state.application = application
    app.state.token_verifier = verifier
    app.state.auth_limiter = FailedAuthLimiter(
        settings.auth_failure_limit, settings.auth_failure_window_seconds
    )
    app.state.access_log = access_log
    app.state.read_gate = read_gate
    app.state.feed = feed
    app.state.views = views
    app.state.timeline_cache = TimelineCache()
    app.state.compliance_cache = ComplianceCache()
    install_error_handlers(app)
    # Added last runs first: the request id and access line wrap the body limit's 413 too.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(WakeViewsOnWrite, wake=views.runner.wake)
    app.add_middleware(RequestTimeoutMiddleware, seconds=settings.request_timeout_seconds)
    app.add_middleware(RequestContextMiddleware)
    # A request is matched against the routers in this order (each router's routes in turn,
    # twice: FastAPI finds the router, then the route), so the most frequent requests' come
    # first: records (timeline, state, writes), then the views (compliance, caseloads); the
    # probes last (a router that does not match still costs ~7 us: docs/performance.md).
    # No two routers' paths overlap but GET /v1/participants (caseload) and POST
    # /v1/participants (admit), and Starlette keeps looking past a method mismatch.
    app.include_router(participants.router, responses=AUTH_RESPONSES)
    app.include_router(view_routes.router, responses=AUTH_RESPONSES)
    app.include_router(records.router, responses=AUTH_RESPONSES)
    app.include_router(audit.router, responses=AUTH_RESPONSES)
    app.include_router(audit_replay.router, responses=AUTH_RESPONSES)
    app.include_router(consents.router, responses=AUTH_RESPONSES)
    app.include_router(events.router, responses=AUTH_RESPONSES)
    app.include_router(fhir.router, responses=AUTH_RESPONSES)
    app.include_router(health.router)
    # The clinicians' HTML pages (sign-in, caseloads, records, forms) and their stylesheet.
    install_pages(app)
    install_openapi(app)
    return app


__all__ = ["create_app"]
