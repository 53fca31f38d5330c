"""Every Prometheus metric the product exports, by name: the one list the API's `/metrics`,
the Grafana dashboard, the alert rules and docs/observability.md are checked against.

Labels are bounded: a tenant is its HubSpot portal id, a vendor, step, status or outcome
is one of a fixed set; never an email, a workflow id, a run id or a quota key as typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MetricKind(StrEnum):
    """Prometheus' metric types we use."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its full name (a counter's with `_total`), type, labels and meaning."""

    name: str
    kind: MetricKind
    labels: tuple[str, ...]
    help: str
    # Histograms only: the upper bounds, in seconds.
    buckets: tuple[float, ...] = ()

    @property
    def series(self) -> tuple[str, ...]:
        """The sample names Prometheus stores for it (a histogram's three; else the name)."""
        if self.kind is MetricKind.HISTOGRAM:
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        if self.kind is MetricKind.COUNTER:
            return (self.name, self.name.removesuffix("_total") + "_created")
        return (self.name,)


STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LEAD_BUCKETS = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

_C, _G, _H = MetricKind.COUNTER, MetricKind.GAUGE, MetricKind.HISTOGRAM

# -- The API process's own (counted where they happen, summed over its workers) --
HTTP_REQUESTS = MetricSpec(
    "sales_agent_http_requests_total",
    _C,
    ("method", "route", "status"),
    "HTTP requests answered, by route template and status",
)
HTTP_LATENCY = MetricSpec(
    "sales_agent_http_request_duration_seconds",
    _H,
    ("route",),
    "Time to answer, from the request's arrival to the response's start",
    HTTP_BUCKETS,
)
WEBHOOK_SUBMISSIONS = MetricSpec(
    "sales_agent_webhook_submissions_total",
    _C,
    ("outcome",),
    "Form submissions received by the webhook, by outcome (accepted, duplicate)",
)
LAUNCHES = MetricSpec(
    "sales_agent_dagster_launches_total",
    _C,
    ("outcome",),
    "Runs the API asked Dagster for, by outcome (launched, failed, left_to_sensor)",
)
LAUNCHED_LEADS = MetricSpec(
    "sales_agent_dagster_launched_leads_total", _C, (), "Leads in the runs the API launched"
)
LAUNCH_QUEUE = MetricSpec(
    "sales_agent_launch_queue_leads", _G, (), "Accepted leads waiting in the API's launch queue"
)

# -- The pipeline's, read from the database at each scrape (whichever process did the work) --
WORKFLOWS = MetricSpec(
    "sales_agent_workflows_total",
    _C,
    ("tenant", "status"),
    "Workflows ever received, by tenant (portal id) and current status; synthetic canary "
    "leads are left out",
)
STEP_DURATION = MetricSpec(
    "sales_agent_step_duration_seconds",
    _H,
    ("step",),
    "Each step's own duration for one lead, from its audited outcome",
    STEP_BUCKETS,
)
STEP_RETRIES = MetricSpec(
    "sales_agent_step_retries_total",
    _C,
    ("step", "error_class"),
    "Failed step attempts, by step and error class (transient, permanent, configuration)",
)
VENDOR_REQUESTS = MetricSpec(
    "sales_agent_vendor_requests_total",
    _C,
    ("vendor", "operation", "status"),
    "Requests sent to a vendor (hubspot, gmail, calendar, drive, openai, anthropic), by "
    "operation and answer (the HTTP status, or timeout, unreachable, error)",
)
QUOTA_USED = MetricSpec(
    "sales_agent_quota_units_used",
    _G,
    ("vendor", "bucket"),
    "Units taken from a shared vendor quota in its current window (bucket: the quota's "
    "kind and a short fingerprint of its key, never the key)",
)
QUOTA_REMAINING = MetricSpec(
    "sales_agent_quota_units_remaining",
    _G,
    ("vendor", "bucket"),
    "Units left in a shared vendor quota's current window",
)
BACKLOG = MetricSpec(
    "sales_agent_backlog",
    _G,
    ("state",),
    "Unfinished workflows by state (waiting, running, dead_letter_redrive_due, "
    "dead_letter_for_a_person)",
)
OLDEST_PENDING = MetricSpec(
    "sales_agent_oldest_pending_seconds",
    _G,
    (),
    "Age of the oldest lead received and not yet finished (0 when none waits)",
)
DEAD_LETTER = MetricSpec(
    "sales_agent_dead_letter",
    _G,
    ("tenant",),
    "Workflows in the dead-letter queue, by tenant",
)
RECONCILIATION_MISSING = MetricSpec(
    "sales_agent_reconciliation_missing",
    _G,
    ("tenant",),
    "Submissions the latest reconciliation found in HubSpot and not here, by tenant",
)
APPROVALS_PENDING = MetricSpec(
    "sales_agent_approvals_pending",
    _G,
    ("tenant",),
    "Drafts waiting for a person's approval before they are sent, by tenant",
)
SCHEDULED_SENDS = MetricSpec(
    "sales_agent_scheduled_sends",
    _G,
    ("tenant", "state"),
    "SEND emails waiting for the recipient's business hours (scheduled), and those of them "
    "due over 10 minutes ago and still not sent (overdue), by tenant",
)
SUPPRESSIONS = MetricSpec(
    "sales_agent_suppressions",
    _G,
    ("tenant", "reason"),
    "Addresses and domains a tenant never mails, by why (unsubscribe, bounce, opt-out, manual)",
)
WORKFLOWS_STOPPED = MetricSpec(
    "sales_agent_workflows_stopped_total",
    _C,
    ("tenant", "reason"),
    "Workflows whose pending mail and follow-ups were cancelled after they ran (a reply, an "
    "unsubscribe, a bounce), by tenant and reason",
)
BREAKER_OPEN = MetricSpec(
    "sales_agent_breaker_open",
    _G,
    ("vendor", "tenant"),
    "1 while a vendor's circuit breaker for a tenant is open (or half-open), else 0",
)
DRAFT_WRITER = MetricSpec(
    "sales_agent_draft_writer_total",
    _C,
    ("writer", "outcome"),
    "Drafts written, by the writer asked (template, openai, anthropic) and outcome "
    "(written, or the fallback's reason: timeout, refused, malformed, unsafe, budget, "
    "unavailable, error)",
)
LEAD_TO_DRAFT = MetricSpec(
    "sales_agent_lead_to_draft_seconds",
    _H,
    ("source",),
    "From a submission's arrival to its draft, by source (webhook, reconciliation, import)",
    LEAD_BUCKETS,
)
CANARY_LAST_SUCCESS = MetricSpec(
    "sales_agent_canary_last_success_timestamp_seconds",
    _G,
    (),
    "When the synthetic canary lead last finished (Unix time; 0 before the first)",
)
CANARY_LATENCY = MetricSpec(
    "sales_agent_canary_latency_seconds",
    _G,
    (),
    "The last finished canary's time from its post to its draft",
)
CANARY_LATE = MetricSpec(
    "sales_agent_canary_late",
    _G,
    (),
    "1 when the latest canary has not finished within its latency goal, else 0",
)
DAEMON_UP = MetricSpec(
    "sales_agent_dagster_daemon_up",
    _G,
    (),
    "1 when every Dagster daemon's heartbeat is recent, else 0",
)
CODE_SERVER_UP = MetricSpec(
    "sales_agent_code_server_up",
    _G,
    (),
    "1 when Dagster's webserver loads our code location, else 0",
)

API_METRICS: tuple[MetricSpec, ...] = (
    HTTP_REQUESTS,
    HTTP_LATENCY,
    WEBHOOK_SUBMISSIONS,
    LAUNCHES,
    LAUNCHED_LEADS,
    LAUNCH_QUEUE,
)
PIPELINE_METRICS: tuple[MetricSpec, ...] = (
    WORKFLOWS,
    STEP_DURATION,
    STEP_RETRIES,
    VENDOR_REQUESTS,
    QUOTA_USED,
    QUOTA_REMAINING,
    BACKLOG,
    OLDEST_PENDING,
    DEAD_LETTER,
    RECONCILIATION_MISSING,
    APPROVALS_PENDING,
    SCHEDULED_SENDS,
    SUPPRESSIONS,
    WORKFLOWS_STOPPED,
    BREAKER_OPEN,
    DRAFT_WRITER,
    LEAD_TO_DRAFT,
    CANARY_LAST_SUCCESS,
    CANARY_LATENCY,
    CANARY_LATE,
    DAEMON_UP,
    CODE_SERVER_UP,
)
METRICS = API_METRICS + PIPELINE_METRICS
BY_NAME = {spec.name: spec for spec in METRICS}
# Every sample name /metrics may carry, for the dashboard's and the rules' check.
SERIES = frozenset(name for spec in METRICS for name in spec.series)
