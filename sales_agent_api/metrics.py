"""Prometheus metrics: the API's own, counted where they happen, and the pipeline's, read
from the database at each scrape. domain/metrics.py names every one (the contract).

With several uvicorn workers each is its own process: `sales-agent up` sets
PROMETHEUS_MULTIPROC_DIR (emptied at start) and /metrics then adds up every worker's
numbers (prometheus-client's multiprocess mode). Without it, one process's registry is served.

The pipeline's work is done in other processes (Dagster's run workers, short-lived), so its
figures are not counted in memory but read from the audit tables by `PipelineCollector`:
every API worker answers the same figures, and nothing is lost when a run's process ends.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence

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
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sales_agent_pipeline.connectors.dagster_status import DagsterHealth, dagster_health
from sales_agent_pipeline.connectors.ratelimit import fingerprint
from sales_agent_pipeline.db.repositories.metrics import (
    Histogram as Observed,
)
from sales_agent_pipeline.db.repositories.metrics import (
    PipelineFigures,
    QuotaWindow,
    pipeline_figures,
)
from sales_agent_pipeline.domain import metrics as catalog
from sales_agent_pipeline.domain.metrics import MetricSpec
from sales_agent_pipeline.settings import Settings

REQUESTS = Counter(
    catalog.HTTP_REQUESTS.name, catalog.HTTP_REQUESTS.help, catalog.HTTP_REQUESTS.labels
)
LATENCY = Histogram(
    catalog.HTTP_LATENCY.name,
    catalog.HTTP_LATENCY.help,
    catalog.HTTP_LATENCY.labels,
    buckets=catalog.HTTP_LATENCY.buckets,
)
DELIVERIES = Counter(
    catalog.WEBHOOK_SUBMISSIONS.name,
    catalog.WEBHOOK_SUBMISSIONS.help,
    catalog.WEBHOOK_SUBMISSIONS.labels,
)
LAUNCHES = Counter(catalog.LAUNCHES.name, catalog.LAUNCHES.help, catalog.LAUNCHES.labels)
LAUNCHED_LEADS = Counter(
    catalog.LAUNCHED_LEADS.name, catalog.LAUNCHED_LEADS.help, catalog.LAUNCHED_LEADS.labels
)
QUEUED = Gauge(
    catalog.LAUNCH_QUEUE.name,
    catalog.LAUNCH_QUEUE.help,
    catalog.LAUNCH_QUEUE.labels,
    multiprocess_mode="livesum",
)

# How long one worker serves the figures it read: Prometheus scrapes every 15 s or so, and
# a dashboard's refresh or a second scraper within this time costs no query.
CACHE_SECONDS = 5.0
# A scrape never waits long on the database: figures late are better than a scrape timing out.
STATEMENT_TIMEOUT_MS = 5000

router = APIRouter(tags=["health"])
log = structlog.get_logger(__name__)


def _counter(spec: MetricSpec) -> CounterMetricFamily:
    return CounterMetricFamily(spec.name, spec.help, labels=spec.labels)


def _gauge(spec: MetricSpec) -> GaugeMetricFamily:
    return GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)


def _histogram(spec: MetricSpec, observed: Iterable[Observed]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
    for one in observed:
        buckets = [
            (floatToGoString(bound), count)
            for bound, count in zip(spec.buckets, one.buckets, strict=True)
        ]
        family.add_metric([one.label], [*buckets, ("+Inf", one.count)], one.sum)
    return family


def quota_limit(window: QuotaWindow, settings: Settings) -> int:
    """What the quota's window holds, from the settings the connectors build it with
    (usecases/vendors.py): the database keeps the units taken, not the limit."""
    if window.vendor == "gmail":
        return settings.gmail_quota_units_per_second * 60
    if window.vendor == "hubspot":
        if window.kind.endswith("_search"):
            return settings.hubspot_searches_per_second
        if window.oauth:
            return settings.hubspot_oauth_requests_per_10s
        return settings.hubspot_requests_per_10s
    return settings.llm_requests_per_minute


def _quotas(windows: Sequence[QuotaWindow], settings: Settings) -> list[Metric]:
    used, remaining = _gauge(catalog.QUOTA_USED), _gauge(catalog.QUOTA_REMAINING)
    for window in windows:
        # The kind and a fingerprint of the key: never the mailbox or the token it names.
        labels = [window.vendor, f"{window.kind}:{fingerprint(window.key)}"]
        used.add_metric(labels, window.used)
        remaining.add_metric(labels, max(quota_limit(window, settings) - window.used, 0))
    return [used, remaining]


def _per_tenant(spec: MetricSpec, counts: dict[str, int]) -> GaugeMetricFamily:
    family = _gauge(spec)
    for portal, count in sorted(counts.items()):
        family.add_metric([portal], count)
    return family


def database_families(figures: PipelineFigures, settings: Settings) -> list[Metric]:
    """The pipeline's figures as Prometheus families, one per catalog metric."""
    workflows = _counter(catalog.WORKFLOWS)
    for portal, status, count in figures.workflows:
        workflows.add_metric([portal, status], count)
    retries = _counter(catalog.STEP_RETRIES)
    for step, error_class, count in figures.step_retries:
        retries.add_metric([step, error_class], count)
    requests = _counter(catalog.VENDOR_REQUESTS)
    for vendor, operation, status, count in figures.vendor_requests:
        requests.add_metric([vendor, operation, status], count)
    backlog = _gauge(catalog.BACKLOG)
    for state, count in figures.backlog.by_state().items():
        backlog.add_metric([state], count)
    oldest = _gauge(catalog.OLDEST_PENDING)
    oldest.add_metric([], figures.oldest_pending_seconds)
    breakers = _gauge(catalog.BREAKER_OPEN)
    for vendor, portal, is_open in figures.breakers:
        breakers.add_metric([vendor, portal], 1 if is_open else 0)
    writers = _counter(catalog.DRAFT_WRITER)
    for writer, outcome, count in figures.draft_writers:
        writers.add_metric([writer, outcome], count)
    last_success = _gauge(catalog.CANARY_LAST_SUCCESS)
    last_success.add_metric([], figures.canary.last_success_at)
    latency = _gauge(catalog.CANARY_LATENCY)
    latency.add_metric([], figures.canary.latency_seconds)
    late = _gauge(catalog.CANARY_LATE)
    late.add_metric([], 1 if figures.canary.late else 0)
    scheduled = _gauge(catalog.SCHEDULED_SENDS)
    for portal, state, count in figures.scheduled_sends:
        scheduled.add_metric([portal, state], count)
    suppressed = _gauge(catalog.SUPPRESSIONS)
    for portal, reason, count in figures.suppressions:
        suppressed.add_metric([portal, reason], count)
    stopped = _counter(catalog.WORKFLOWS_STOPPED)
    for portal, reason, count in figures.workflows_stopped:
        stopped.add_metric([portal, reason], count)
    by_figure: dict[str, list[Metric]] = {
        "workflows": [workflows],
        "step_durations": [_histogram(catalog.STEP_DURATION, figures.step_durations)],
        "step_retries": [retries],
        "vendor_requests": [requests],
        "quotas": _quotas(figures.quotas, settings),
        "backlog": [backlog],
        "oldest_pending_seconds": [oldest],
        "dead_letters": [_per_tenant(catalog.DEAD_LETTER, figures.dead_letters)],
        "reconciliation_missing": [
            _per_tenant(catalog.RECONCILIATION_MISSING, figures.reconciliation_missing)
        ],
        "approvals_pending": [_per_tenant(catalog.APPROVALS_PENDING, figures.approvals_pending)],
        "scheduled_sends": [scheduled],
        "suppressions": [suppressed],
        "workflows_stopped": [stopped],
        "breakers": [breakers],
        "draft_writers": [writers],
        "lead_to_draft": [_histogram(catalog.LEAD_TO_DRAFT, figures.lead_to_draft)],
        "canary": [last_success, latency, late],
    }
    # A figure whose query failed is left out (absent), never shown as zeros.
    return [
        family
        for name, families in by_figure.items()
        if name not in figures.missing
        for family in families
    ]


def dagster_families(health: Callable[[str], DagsterHealth], url: str) -> list[Metric]:
    """Dagster's daemon and code server: 1 up, 0 down or not known (any failure to ask)."""
    try:
        found = health(url)
        daemon, code_server = found.daemon_ok, found.code_server_ok
    except Exception as exc:
        log.warning("metrics.dagster_health_unavailable", error=type(exc).__name__)
        daemon = code_server = False
    daemon_up, code_server_up = _gauge(catalog.DAEMON_UP), _gauge(catalog.CODE_SERVER_UP)
    daemon_up.add_metric([], 1 if daemon else 0)
    code_server_up.add_metric([], 1 if code_server else 0)
    return [daemon_up, code_server_up]


class PipelineCollector(Collector):
    """The pipeline's metrics, read from the database (and Dagster's health from its
    webserver) at most once per CACHE_SECONDS in this process; every API worker serves the
    same figures. When the database does not answer, its metrics are left out (an absent
    series, not a stale one) and the scrape still succeeds."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        cache_seconds: float = CACHE_SECONDS,
        health: Callable[[str], DagsterHealth] = dagster_health,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.cache_seconds = cache_seconds
        self._health = health
        self._lock = threading.Lock()
        self._families: list[Metric] = []
        self._read_at: float | None = None

    def invalidate(self) -> None:
        """Read afresh at the next scrape (tests, after they change the tables)."""
        with self._lock:
            self._read_at = None

    def collect(self) -> list[Metric]:
        """The families, from the cache while it is fresh; one reader at a time."""
        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= self.cache_seconds:
                self._families = self._read()
                self._read_at = time.monotonic()
            return self._families

    def _read(self) -> list[Metric]:
        families = dagster_families(self._health, self.settings.resolved_dagster_webserver_url)
        try:
            with self.sessions() as session, session.begin():
                session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
                # The aggregates' cost estimates pass PostgreSQL's JIT threshold: compiling
                # them took ~0.7 s of a read whose queries run in ~0.1 s (10,000 leads).
                session.execute(text("SET LOCAL jit = off"))
                figures = pipeline_figures(
                    session,
                    step_bounds=catalog.STEP_DURATION.buckets,
                    lead_bounds=catalog.LEAD_TO_DRAFT.buckets,
                    canary_goal_seconds=self.settings.canary_latency_goal_seconds,
                )
        except SQLAlchemyError as exc:
            log.warning("metrics.database_unavailable", error=type(exc).__name__)
            return families
        if figures.missing:
            log.warning("metrics.figures_unavailable", failed=figures.missing)
        return database_families(figures, self.settings) + families


def pipeline_collector(request: Request) -> PipelineCollector:
    """This app's collector, made at its first scrape (one per worker process)."""
    state = request.app.state
    collector: PipelineCollector | None = getattr(state, "pipeline_metrics", None)
    if collector is None or collector.sessions is not state.sessions:
        collector = PipelineCollector(state.sessions, state.settings)
        state.pipeline_metrics = collector
    return collector


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The metrics in Prometheus' text format: the API's, summed over its workers, and the
    pipeline's from the database."""
    database = CollectorRegistry(auto_describe=False)
    database.register(pipeline_collector(request))
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
