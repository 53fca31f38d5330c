"""Prometheus metrics of the API: requests by route and status, webhook outcomes, launches.

With several uvicorn workers each is its own process: `sales-agent up` sets
PROMETHEUS_MULTIPROC_DIR (emptied at start) and /metrics then adds up every worker's
numbers (prometheus-client's multiprocess mode). Without it, one process's registry is served.
"""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """The metrics in Prometheus' text format, summed over the API's workers."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


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
