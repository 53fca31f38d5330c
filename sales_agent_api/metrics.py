"""Prometheus metrics of the API: requests by route and status, webhook outcomes, launches.

With several uvicorn workers each is its own process: `sales-agent up` sets
PROMETHEUS_MULTIPROC_DIR (emptied at start) and /metrics then adds up every worker's
numbers (prometheus-client's multiprocess mode). Without it, one process's registry is served.
"""

from __future__ import annotations

import os
import time

import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sales_agent_pipeline.db.repositories.backlog import backlog

REQUESTS = Counter(
    "sales_agent_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "sales_agent_http_request_duration_seconds",
    "Time to answer, from the request's arrival to the response's start",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DELIVERIES = Counter(
    "sales_agent_webhook_submissions_total",
    "Form submissions received by the webhook, by outcome (accepted, duplicate)",
    ["outcome"],
)
LAUNCHES = Counter(
    "sales_agent_dagster_launches_total",
    "Runs the API asked Dagster for, by outcome (launched, failed, left_to_sensor)",
    ["outcome"],
)
LAUNCHED_LEADS = Counter(
    "sales_agent_dagster_launched_leads_total", "Leads in the runs the API launched"
)
QUEUED = Gauge(
    "sales_agent_launch_queue_leads",
    "Accepted leads waiting in the API's launch queue",
    multiprocess_mode="livesum",
)

router = APIRouter(tags=["health"])
log = structlog.get_logger(__name__)


class BacklogCollector(Collector):
    """Unfinished workflows by state, read from the database at each scrape (so every
    worker answers the same figures): waiting for a run, running, and dead letters apart,
    those a re-drive is still due for and those kept for a person."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> list[GaugeMetricFamily]:
        """One gauge, a sample per state; none when the database does not answer."""
        try:
            with self.sessions() as session:
                counts = backlog(session)
        except SQLAlchemyError as exc:
            log.warning("metrics.backlog_unavailable", error=type(exc).__name__)
            return []
        gauge = GaugeMetricFamily(
            "sales_agent_workflows_backlog",
            "Unfinished workflows by state (waiting, running, dead_letter_redrive_due, "
            "dead_letter_for_a_person)",
            labels=["state"],
        )
        for state, count in counts.by_state().items():
            gauge.add_metric([state], count)
        return [gauge]


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The metrics in Prometheus' text format, summed over the API's workers, and the
    workflow backlog from the database."""
    database = CollectorRegistry(auto_describe=False)
    database.register(BacklogCollector(request.app.state.sessions))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        process = generate_latest(registry)
    else:
        process = generate_latest()
    return Response(process + generate_latest(database), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (a pure ASGI middleware:
    Starlette's BaseHTTPMiddleware costs a task and a stream per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # until a response starts

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")
                LATENCY.labels(path).observe(time.perf_counter() - started)
                REQUESTS.labels(scope["method"], path, str(status)).inc()
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except Exception:
            if status == 500:  # nothing was sent: Starlette's outer handler answers 500
                route = getattr(scope.get("route"), "path", "unmatched")
                REQUESTS.labels(scope["method"], route, "500").inc()
            raise
