"""create_app(): the API process (uvicorn sales_agent_api.app:create_app --factory)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import structlog
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from sales_agent_api import metrics, unsubscribe_guard
from sales_agent_api.body_limits import BodyLimits, upload_limit
from sales_agent_api.errors import install_error_handlers
from sales_agent_api.launch import LaunchQueue
from sales_agent_api.mailboxes import TenantMailboxes
from sales_agent_api.metrics import MetricsMiddleware
from sales_agent_api.routes import (
    admin_credentials,
    admin_settings,
    admin_switches,
    breakers,
    dead_letters,
    drafts,
    gmail_push,
    health,
    imports,
    oauth,
    suppressions,
    unsubscribe,
    usage,
    webhook,
    workflows,
)
from sales_agent_api.secret_cache import PlaintextCache
from sales_agent_pipeline import tracing
from sales_agent_pipeline.connectors.dagster_launcher import DagsterLauncher
from sales_agent_pipeline.connectors.ui_identity import service_headers
from sales_agent_pipeline.db.session import make_engine, make_session_factory
from sales_agent_pipeline.observability import configure_logging, log_format
from sales_agent_pipeline.secretbox import secret_box
from sales_agent_pipeline.settings import Settings, get_settings
from sales_agent_pipeline.usecases.tenants import sync_environment_tenant

log = structlog.get_logger(__name__)
# Probes and scrapes make no spans; the span of any other request does.
UNTRACED = "/healthz$,/readyz$,/metrics$"
_URL_ATTRIBUTES = ("http.url", "http.target", "url.full")


def _no_query_in_span(span: Any, scope: Any) -> None:
    """A request's query string stays out of its span: an OAuth callback's code, a filter's
    email address; so does an unsubscribe link's token."""
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    if str(scope.get("path", "")).startswith(unsubscribe_guard.PREFIX):
        unsubscribe_guard.hide_token_in_span(span, attributes)
    if not scope.get("query_string"):
        return
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "[redacted]")


def _trace_requests(app: FastAPI) -> None:
    """A span per request, current while the route runs (the webhook's reaches its run).

    Only when tracing is on: the instrumentation's middleware would cost the webhook's
    300 deliveries a second something even with no span exported."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracing.provider(),
        excluded_urls=UNTRACED,
        # The ASGI receive and send of each body would be two more spans per request.
        exclude_spans=["receive", "send"],
        server_request_hook=_no_query_in_span,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database engine lives as long as the app."""
    settings = settings or get_settings()
    if settings.database_url is None:
        raise RuntimeError(
            "DATABASE_URL is unset: start the API with `sales-agent up` (which runs the "
            "embedded PostgreSQL) or set DATABASE_URL"
        )
    database_url = settings.database_url.get_secret_value()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, log_format(settings))
        engine = make_engine(database_url)
        app.state.settings = settings
        # Built at start-up: a production process without an encryption key stops here.
        app.state.secrets = PlaintextCache(secret_box(settings))
        app.state.engine = engine
        app.state.sessions = make_session_factory(engine)
        # The single-portal path: HUBSPOT_PORTAL_ID's tenant made or updated from the
        # environment before the first delivery is answered (idempotent with `up`'s own).
        line = await anyio.to_thread.run_sync(sync_environment_tenant, app.state.sessions, settings)
        if line:
            log.info(line)
        app.state.mailboxes = TenantMailboxes(engine, app.state.sessions, settings)
        app.state.launcher = DagsterLauncher(
            settings.resolved_dagster_webserver_url, headers=service_headers(settings)
        )
        app.state.launches = LaunchQueue(
            app.state.sessions,
            app.state.launcher,
            batch_size=settings.sensor_batch_size,
            linger_seconds=settings.launch_linger_seconds,
        )
        app.state.launches.start()
        # The webhook's stores get a few threads of their own: with the default pool of 40,
        # a burst kept up to 40 threads taking turns at the GIL with the event loop, and the
        # acks' p99 at 300 req/s went from ~100 to ~300 ms. Other routes keep the default.
        app.state.store_limiter = anyio.CapacityLimiter(settings.webhook_store_threads)
        yield
        app.state.launches.stop()
        app.state.launcher.close()
        engine.dispose()
        tracing.flush()

    # /docs and /redoc from assets in the wheel, not a CDN: operators run this where the
    # browser may not reach the internet.
    app = FastAPIOffline(
        title="Sales Agent Pipeline",
        version="0.1.0",
        summary="HubSpot form leads to personalised Gmail drafts and HubSpot tasks.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    # Inside the metrics: its refusals are counted like any answer.
    app.add_middleware(
        BodyLimits,
        default=settings.api_max_body_bytes,
        limits={
            webhook.PATH: settings.webhook_max_body_bytes,
            imports.router.prefix: upload_limit(settings),
        },
    )
    app.add_middleware(MetricsMiddleware)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(webhook.router)
    # Gmail's Pub/Sub pushes: their token query parameter never reaches the access log.
    app.include_router(gmail_push.router)
    gmail_push.hide_token_in_access_log()
    app.include_router(workflows.router)
    app.include_router(drafts.router)
    app.include_router(admin_settings.router)
    app.include_router(admin_credentials.router)
    app.include_router(admin_switches.router)
    app.include_router(dead_letters.router)
    app.include_router(imports.router)
    app.include_router(oauth.router)
    app.include_router(usage.router)
    app.include_router(breakers.router)
    app.include_router(suppressions.router)
    # Public: no API key (it is not under /api), bounded by the default body limit.
    app.include_router(unsubscribe.router)
    unsubscribe_guard.hide_tokens_in_access_log()
    if tracing.configure_tracing(settings, f"{settings.otel_service_name}-api"):
        _trace_requests(app)
    return app
