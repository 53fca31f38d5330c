"""The pipeline's metrics, read from the audit tables at scrape time (sales_agent_api/metrics.py
turns them into Prometheus families; domain/metrics.py names them).

Every figure is aggregated by PostgreSQL (GROUP BY, one `count(*) FILTER` per histogram
bucket) and comes back as a handful of rows per label set, never as the rows it counts.
Labels are bounded: a tenant is its portal id, a quota its kind and key (the caller shows
only the key's fingerprint), a vendor, step, status or outcome one of a fixed set.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Float,
    String,
    and_,
    case,
    extract,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from sales_agent_pipeline.db.models import (
    CircuitBreaker,
    DraftEmail,
    FormSubmission,
    QuotaBucket,
    QuotaUsage,
    ReconciliationReport,
    ScheduledSend,
    Suppression,
    Tenant,
    TenantUsage,
    Workflow,
    WorkflowError,
    WorkflowEvent,
)
from sales_agent_pipeline.db.repositories.backlog import Backlog, backlog
from sales_agent_pipeline.domain.compliance import ScheduledSendStatus, StopReason
from sales_agent_pipeline.domain.enums import (
    BreakerState,
    HubSpotAuth,
    StepStatus,
    WorkflowStatus,
)
from sales_agent_pipeline.domain.quotas import (
    HUBSPOT_SEARCH_WINDOW_SECONDS,
    HUBSPOT_WINDOW_SECONDS,
    QUOTA_WINDOW_SECONDS,
)

# connectors/metering.py's request counters: "vendor_requests.<vendor>.<operation>.<status>".
VENDOR_REQUESTS = "vendor_requests"
# Received and not finished: waiting for a run, or running (dead letters are counted apart).
PENDING = (
    WorkflowStatus.RECEIVED.value,
    WorkflowStatus.QUEUED.value,
    WorkflowStatus.RUNNING.value,
)
# A step's audited outcome: the event that closes it for a lead, with its duration.
STEP_OUTCOMES = (StepStatus.SUCCEEDED.value, StepStatus.FAILED.value)
_SECOND: ColumnClause[Any] = literal_column("interval '1 second'")
# The model writers' requests per minute are counted over a minute (usecases/vendors.py).
LLM_WINDOW_SECONDS = 60.0
# SQLSTATE classes of a connection that failed (08: connection exception; 57P: the server
# shutting down or starting), as opposed to one statement's failure.
_CONNECTION_STATES = ("08", "57P")
WRITER_OUTCOMES = (
    "written",
    "timeout",
    "refused",
    "malformed",
    "unsafe",
    "budget",
    "unavailable",
    "error",
)


@dataclass(frozen=True)
class Histogram:
    """One label set of a histogram: the cumulative count at each bound, the count, the sum."""

    label: str
    buckets: tuple[int, ...]
    count: int
    sum: float


@dataclass(frozen=True)
class QuotaWindow:
    """Units taken from one shared quota in its current window. `key` is the quota's name
    as stored (it may hold a mailbox address): the caller labels it by fingerprint only.
    `oauth`: a HubSpot portal whose tenant uses an OAuth app (a smaller budget)."""

    vendor: str
    kind: str
    key: str
    used: int
    oauth: bool = False


@dataclass(frozen=True)
class Canary:
    """The synthetic canary: when it last succeeded, how long that took, and whether the
    latest one is late (not succeeded and older than the goal, or succeeded slower than it)."""

    last_success_at: float = 0.0
    latency_seconds: float = 0.0
    late: bool = False


@dataclass
class PipelineFigures:
    """Everything the pipeline's metrics show, read in one transaction."""

    workflows: list[tuple[str, str, int]] = field(default_factory=list)
    step_durations: list[Histogram] = field(default_factory=list)
    step_retries: list[tuple[str, str, int]] = field(default_factory=list)
    vendor_requests: list[tuple[str, str, str, int]] = field(default_factory=list)
    quotas: list[QuotaWindow] = field(default_factory=list)
    backlog: Backlog = field(default_factory=Backlog)
    oldest_pending_seconds: float = 0.0
    dead_letters: dict[str, int] = field(default_factory=dict)
    reconciliation_missing: dict[str, int] = field(default_factory=dict)
    approvals_pending: dict[str, int] = field(default_factory=dict)
    # (portal, state, count), (portal, reason, count), (portal, reason, count).
    scheduled_sends: list[tuple[str, str, int]] = field(default_factory=list)
    suppressions: list[tuple[str, str, int]] = field(default_factory=list)
    workflows_stopped: list[tuple[str, str, int]] = field(default_factory=list)
    breakers: list[tuple[str, str, bool]] = field(default_factory=list)
    draft_writers: list[tuple[str, str, int]] = field(default_factory=list)
    lead_to_draft: list[Histogram] = field(default_factory=list)
    canary: Canary = field(default_factory=Canary)
    # Figures whose query failed, with the error's name: their metrics are left out.
    missing: dict[str, str] = field(default_factory=dict)


def _histograms(
    session: Session, observed: Any, bounds: Sequence[float], scale: float
) -> list[Histogram]:
    """One row per label of `observed` (a subquery of `label` and `value`, the value in
    seconds times `scale`): a count per bound (cumulative, as Prometheus' `le`), the count
    and the sum in seconds. The value is computed once per row, compared as it is stored."""
    value = observed.c.value
    statement = select(
        observed.c.label,
        *(func.count().filter(value <= bound * scale) for bound in bounds),
        func.count(),
        func.coalesce(func.sum(value), 0),
    ).group_by(observed.c.label)
    rows = session.execute(statement).all()
    return [
        Histogram(
            label=str(row[0]),
            buckets=tuple(int(n) for n in row[1 : 1 + len(bounds)]),
            count=int(row[1 + len(bounds)]),
            sum=float(row[2 + len(bounds)]) / scale,
        )
        for row in rows
    ]


def portals(session: Session) -> dict[uuid.UUID, str]:
    """Every tenant's portal id (the tenant label), by tenant id."""
    rows = session.execute(select(Tenant.id, Tenant.portal_id)).all()
    return {tenant_id: str(portal_id) for tenant_id, portal_id in rows}


def workflow_counts(session: Session) -> list[tuple[str, str, int]]:
    """(portal, status, workflows) of real leads (synthetic canaries left out)."""
    rows = session.execute(
        select(Tenant.portal_id, Workflow.status, func.count())
        .join(Tenant, Tenant.id == Workflow.tenant_id)
        .where(Workflow.synthetic.is_(False))
        .group_by(Tenant.portal_id, Workflow.status)
    ).all()
    return [(str(portal), str(status), int(count)) for portal, status, count in rows]


def step_durations(session: Session, bounds: Sequence[float]) -> list[Histogram]:
    """Each step's outcomes (succeeded or failed, with the step's own duration), by step."""
    observed = (
        select(WorkflowEvent.step_name.label("label"), WorkflowEvent.duration_ms.label("value"))
        .where(
            WorkflowEvent.event_type.in_([f"step_{status}" for status in STEP_OUTCOMES]),
            WorkflowEvent.status.in_(STEP_OUTCOMES),
            WorkflowEvent.step_number.is_not(None),
            WorkflowEvent.step_name.is_not(None),
            WorkflowEvent.duration_ms.is_not(None),
        )
        .subquery()
    )
    return _histograms(session, observed, bounds, 1000.0)


def step_retries(session: Session) -> list[tuple[str, str, int]]:
    """(step, error class, failed attempts) from workflow_errors."""
    rows = session.execute(
        select(WorkflowError.step_name, WorkflowError.error_class, func.count())
        .where(WorkflowError.step_name.is_not(None))
        .group_by(WorkflowError.step_name, WorkflowError.error_class)
    ).all()
    return [(str(step), str(error_class), int(count)) for step, error_class, count in rows]


def parse_request_metric(metric: str) -> tuple[str, str, str] | None:
    """(vendor, operation, status) of a `vendor_requests.<vendor>.<operation>.<status>`
    counter name (the operation may hold dots); None for any other name."""
    prefix, _, rest = metric.partition(".")
    vendor, _, rest = rest.partition(".")
    operation, _, status = rest.rpartition(".")
    if prefix != VENDOR_REQUESTS or not vendor or not operation or not status:
        return None
    return vendor, operation, status


def vendor_requests(session: Session) -> list[tuple[str, str, str, int]]:
    """(vendor, operation, status, requests) summed over every tenant and day."""
    rows = session.execute(
        select(TenantUsage.metric, func.sum(TenantUsage.value))
        .where(TenantUsage.metric.like(f"{VENDOR_REQUESTS}.%"))
        .group_by(TenantUsage.metric)
    ).all()
    found: list[tuple[str, str, str, int]] = []
    for metric, total in rows:
        parts = parse_request_metric(str(metric))
        if parts is not None:
            found.append((*parts, int(total or 0)))
    return found


def _quota_kind(key: str) -> tuple[str, str, float]:
    """(vendor, kind, window seconds) of a quota key, as connectors/factory.py names them:
    gmail:<base>:<mailbox>, hubspot:<base>:portal:<id>[:search] (or a token's fingerprint
    instead of the portal), llm:<openai|anthropic>:<base>:<key fingerprint>."""
    vendor = key.partition(":")[0]
    if vendor == "gmail":
        return vendor, "mailbox", QUOTA_WINDOW_SECONDS
    if vendor == "hubspot":
        owner = "portal" if ":portal:" in key else "token"
        if key.endswith(":search"):
            return vendor, f"{owner}_search", HUBSPOT_SEARCH_WINDOW_SECONDS
        return vendor, owner, HUBSPOT_WINDOW_SECONDS
    if vendor == "llm":
        return key.split(":", 2)[1], "api_key", LLM_WINDOW_SECONDS
    return vendor or "unknown", "other", QUOTA_WINDOW_SECONDS


def _window_case() -> Any:
    """Each quota's window in seconds, by its key (the same rules as _quota_kind)."""
    key = QuotaBucket.key
    return case(
        (and_(key.like("hubspot:%"), key.like("%:search")), HUBSPOT_SEARCH_WINDOW_SECONDS),
        (key.like("hubspot:%"), HUBSPOT_WINDOW_SECONDS),
        (key.like("llm:%"), LLM_WINDOW_SECONDS),
        else_=QUOTA_WINDOW_SECONDS,
    )


def quota_windows(session: Session) -> list[QuotaWindow]:
    """Units each shared quota holds in its current window (the database's clock)."""
    longest = max(QUOTA_WINDOW_SECONDS, HUBSPOT_WINDOW_SECONDS, LLM_WINDOW_SECONDS)
    now = func.clock_timestamp()
    in_window = QuotaUsage.at > now - _SECOND * _window_case()
    rows = session.execute(
        select(QuotaBucket.key, func.coalesce(func.sum(QuotaUsage.units).filter(in_window), 0))
        .select_from(QuotaBucket)
        .outerjoin(
            QuotaUsage,
            and_(
                QuotaUsage.key == QuotaBucket.key,
                QuotaUsage.at > now - _SECOND * literal(longest, Float),
            ),
        )
        .group_by(QuotaBucket.key)
    ).all()
    oauth = {
        str(portal)
        for portal in session.scalars(
            select(Tenant.portal_id).where(Tenant.hubspot_auth == HubSpotAuth.OAUTH.value)
        )
    }
    windows = []
    for key, used in rows:
        vendor, kind, _ = _quota_kind(str(key))
        portal = str(key).removesuffix(":search").rpartition(":portal:")[2]
        windows.append(
            QuotaWindow(
                vendor, kind, str(key), int(used), kind.startswith("portal") and portal in oauth
            )
        )
    return windows


def oldest_pending_seconds(session: Session) -> float:
    """Age of the oldest workflow received and not finished; 0 when none waits."""
    age = session.scalar(
        select(
            func.coalesce(extract("epoch", func.now() - func.min(Workflow.created_at)), 0.0)
        ).where(Workflow.status.in_(PENDING))
    )
    return max(float(age or 0.0), 0.0)


def _per_tenant(session: Session, statement: Any, tenants: dict[uuid.UUID, str]) -> dict[str, int]:
    """A (tenant id, count) query as counts by portal, every tenant present (0 when none)."""
    counts = dict.fromkeys(tenants.values(), 0)
    for tenant_id, count in session.execute(statement).all():
        portal = tenants.get(tenant_id)
        if portal is not None:
            counts[portal] += int(count or 0)
    return counts


def dead_letters(session: Session, tenants: dict[uuid.UUID, str]) -> dict[str, int]:
    """Workflows in the dead-letter queue, by portal."""
    statement = (
        select(Workflow.tenant_id, func.count())
        .where(Workflow.status == WorkflowStatus.DEAD_LETTER.value)
        .group_by(Workflow.tenant_id)
    )
    return _per_tenant(session, statement, tenants)


def reconciliation_missing(session: Session, tenants: dict[uuid.UUID, str]) -> dict[str, int]:
    """What the latest reconciliation report of each of a tenant's forms found missing,
    added up by portal."""
    latest = (
        select(ReconciliationReport.tenant_id, ReconciliationReport.missing)
        .ext(distinct_on(ReconciliationReport.tenant_id, ReconciliationReport.form_id))
        .order_by(
            ReconciliationReport.tenant_id,
            ReconciliationReport.form_id,
            ReconciliationReport.created_at.desc(),
            ReconciliationReport.id.desc(),
        )
        .subquery()
    )
    statement = select(latest.c.tenant_id, func.sum(latest.c.missing)).group_by(latest.c.tenant_id)
    return _per_tenant(session, statement, tenants)


def approvals_pending(session: Session, tenants: dict[uuid.UUID, str]) -> dict[str, int]:
    """Drafts in Gmail, not sent, of finished real workflows: what an approval would send
    (usecases/approvals.py refuses drafts of workflows still in flight), by portal."""
    statement = (
        select(Workflow.tenant_id, func.count())
        .select_from(DraftEmail)
        .join(Workflow, Workflow.id == DraftEmail.workflow_id)
        .where(
            DraftEmail.sent.is_(False),
            DraftEmail.gmail_draft_id.is_not(None),
            Workflow.status.not_in(PENDING),
            Workflow.synthetic.is_(False),
            # A lead that replied (or unsubscribed, or bounced) is no longer to be approved.
            Workflow.stopped_reason.is_(None),
        )
        .group_by(Workflow.tenant_id)
    )
    return _per_tenant(session, statement, tenants)


# A scheduled send this late is overdue: the due-sends sensor looks every 30 s by default.
OVERDUE_AFTER = timedelta(minutes=10)


def scheduled_sends(session: Session, tenants: dict[uuid.UUID, str]) -> list[tuple[str, str, int]]:
    """SEND emails waiting for their window (scheduled or being sent), and how many of them
    are overdue, by portal; every tenant with a row has both samples."""
    waiting = ScheduledSend.status.in_(
        (ScheduledSendStatus.SCHEDULED.value, ScheduledSendStatus.SENDING.value)
    )
    overdue = and_(waiting, ScheduledSend.due_at < func.now() - OVERDUE_AFTER)
    statement = (
        select(
            ScheduledSend.tenant_id,
            func.count().filter(waiting),
            func.count().filter(overdue),
        )
        .where(waiting)
        .group_by(ScheduledSend.tenant_id)
    )
    rows: list[tuple[str, str, int]] = []
    for tenant_id, scheduled, late in session.execute(statement):
        portal = tenants.get(tenant_id)
        if portal is not None:
            rows += [(portal, "scheduled", int(scheduled)), (portal, "overdue", int(late))]
    return rows


def suppressions(session: Session, tenants: dict[uuid.UUID, str]) -> list[tuple[str, str, int]]:
    """Entries of each tenant's suppression list, by reason."""
    statement = select(Suppression.tenant_id, Suppression.reason, func.count()).group_by(
        Suppression.tenant_id, Suppression.reason
    )
    return [
        (tenants[tenant_id], reason, int(count))
        for tenant_id, reason, count in session.execute(statement)
        if tenant_id in tenants
    ]


def workflows_stopped(
    session: Session, tenants: dict[uuid.UUID, str]
) -> list[tuple[str, str, int]]:
    """Workflows stopped after they ran, by tenant and reason (a bounded set of values:
    anything else counts as `other`). Canary leads are left out."""
    known = [reason.value for reason in StopReason]
    reason = case(
        (Workflow.stopped_reason.in_(known), Workflow.stopped_reason), else_=literal("other")
    )
    statement = (
        select(Workflow.tenant_id, reason, func.count())
        .where(Workflow.stopped_reason.is_not(None), Workflow.synthetic.is_(False))
        .group_by(Workflow.tenant_id, reason)
    )
    return [
        (tenants[tenant_id], str(why), int(count))
        for tenant_id, why, count in session.execute(statement)
        if tenant_id in tenants
    ]


def breakers(session: Session) -> list[tuple[str, str, bool]]:
    """(vendor, portal, open or half-open) of every circuit breaker row."""
    rows = session.execute(
        select(CircuitBreaker.vendor, Tenant.portal_id, CircuitBreaker.state).join(
            Tenant, Tenant.id == CircuitBreaker.tenant_id
        )
    ).all()
    return [
        (str(vendor), str(portal), state != BreakerState.CLOSED.value)
        for vendor, portal, state in rows
    ]


def _fallback_outcome(reason: Any) -> Any:
    """A draft's outcome from its free-text fallback reason (steps/write_draft.py writes
    "<ErrorType>: <message>", or a sentence of its own), as one of WRITER_OUTCOMES."""

    def any_of(*patterns: str) -> Any:
        return or_(*(reason.ilike(pattern) for pattern in patterns))

    return case(
        (reason.is_(None), "written"),
        (any_of("%token budget%"), "budget"),
        (any_of("%timed out%", "%timeout%"), "timeout"),
        (any_of("%refused%", "%content filter%"), "refused"),
        (any_of("%malformed%", "%cut at the output%", "%not json%", "%wrong shape%"), "malformed"),
        (any_of("answer rejected%"), "unsafe"),
        (
            any_of(
                "no model configured%",
                "ConfigurationError%",
                "Unreachable%",
                "BreakerOpen%",
                "NotSent%",
                "TransientError%",
                "%cannot connect%",
                "%unavailable%",
            ),
            "unavailable",
        ),
        else_="error",
    )


def draft_writers(session: Session) -> list[tuple[str, str, int]]:
    """(writer asked, outcome, drafts) of real leads' drafts. A draft's `writer` is the one
    that wrote it; when the template stood in, the writer asked is read from step 10's
    audited output (its provenance's `requested`)."""
    requested = (
        select(WorkflowEvent.details["output"]["draft"]["provenance"]["requested"].astext)
        .where(
            WorkflowEvent.workflow_id == DraftEmail.workflow_id,
            WorkflowEvent.step_name == "write_draft",
            WorkflowEvent.status == StepStatus.SUCCEEDED.value,
        )
        .order_by(WorkflowEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    written_by = func.coalesce(DraftEmail.writer, literal("template", String))
    asked = case(
        (DraftEmail.fallback_reason.is_(None), written_by),
        else_=func.coalesce(requested, written_by),
    )
    # Labelled in a subquery, grouped outside: the CASEs' literals are bound parameters, and
    # PostgreSQL would not see the GROUP BY's copy as the same expression as the SELECT's.
    drafts = (
        select(
            asked.label("writer"),
            _fallback_outcome(DraftEmail.fallback_reason).label("outcome"),
        )
        .select_from(DraftEmail)
        .join(Workflow, Workflow.id == DraftEmail.workflow_id)
        .where(Workflow.synthetic.is_(False))
        .subquery()
    )
    rows = session.execute(
        select(drafts.c.writer, drafts.c.outcome, func.count()).group_by(
            drafts.c.writer, drafts.c.outcome
        )
    ).all()
    return [(str(writer), str(result), int(count)) for writer, result, count in rows]


def lead_to_draft(session: Session, bounds: Sequence[float]) -> list[Histogram]:
    """From a real submission's arrival to its draft (in Gmail), by the submission's source."""
    observed = (
        select(
            FormSubmission.source.label("label"),
            # date_part is a float; EXTRACT a numeric, ~10x slower to compare 13 times a row.
            func.date_part("epoch", DraftEmail.created_at - FormSubmission.received_at).label(
                "value"
            ),
        )
        .select_from(DraftEmail)
        .join(Workflow, Workflow.id == DraftEmail.workflow_id)
        .join(FormSubmission, FormSubmission.id == Workflow.form_submission_id)
        .where(Workflow.synthetic.is_(False), DraftEmail.gmail_draft_id.is_not(None))
        .subquery()
    )
    return _histograms(session, observed, bounds, 1.0)


def canary(session: Session, goal_seconds: float) -> Canary:
    """The canary's figures from the synthetic workflows (the partial index on them)."""
    succeeded = session.execute(
        select(
            extract("epoch", Workflow.completed_at),
            extract("epoch", Workflow.completed_at - Workflow.created_at),
        )
        .where(
            Workflow.synthetic.is_(True),
            Workflow.status == WorkflowStatus.SUCCEEDED.value,
            Workflow.completed_at.is_not(None),
        )
        .order_by(Workflow.completed_at.desc())
        .limit(1)
    ).first()
    latest = session.execute(
        select(
            Workflow.status,
            extract("epoch", func.now() - Workflow.created_at),
            extract("epoch", Workflow.completed_at - Workflow.created_at),
        )
        .where(Workflow.synthetic.is_(True))
        .order_by(Workflow.created_at.desc())
        .limit(1)
    ).first()
    # Late: the newest canary has not succeeded and is older than the goal, or it succeeded
    # but took longer than the goal (a real lead would have been late too).
    late = latest is not None and (
        float(latest[2]) > goal_seconds
        if latest[0] == WorkflowStatus.SUCCEEDED.value and latest[2] is not None
        else float(latest[1]) > goal_seconds
    )
    if succeeded is None:
        return Canary(late=late)
    return Canary(float(succeeded[0]), max(float(succeeded[1]), 0.0), late)


def _statement_failed(error: DBAPIError) -> bool:
    """True when one statement failed (timed out, or refused) on a working connection; False
    when the connection itself failed (nothing more can be read on it)."""
    code = getattr(error.orig, "sqlstate", None)
    return (
        not error.connection_invalidated
        and isinstance(code, str)
        and not code.startswith(_CONNECTION_STATES)
    )


def pipeline_figures(
    session: Session,
    *,
    step_bounds: Sequence[float],
    lead_bounds: Sequence[float],
    canary_goal_seconds: float,
) -> PipelineFigures:
    """Every figure, one aggregate query each, in the caller's transaction.

    Each query runs in a savepoint of its own: one that fails (a statement timeout on a
    large table, say) is named in `missing` and the others are still read. A failed
    connection raises: the caller has no figures at all.
    """
    figures = PipelineFigures()
    readers: dict[str, Callable[[], Any]] = {
        "workflows": lambda: workflow_counts(session),
        "step_durations": lambda: step_durations(session, step_bounds),
        "step_retries": lambda: step_retries(session),
        "vendor_requests": lambda: vendor_requests(session),
        "quotas": lambda: quota_windows(session),
        "backlog": lambda: backlog(session),
        "oldest_pending_seconds": lambda: oldest_pending_seconds(session),
        "dead_letters": lambda: dead_letters(session, portals(session)),
        "reconciliation_missing": lambda: reconciliation_missing(session, portals(session)),
        "approvals_pending": lambda: approvals_pending(session, portals(session)),
        "scheduled_sends": lambda: scheduled_sends(session, portals(session)),
        "suppressions": lambda: suppressions(session, portals(session)),
        "workflows_stopped": lambda: workflows_stopped(session, portals(session)),
        "breakers": lambda: breakers(session),
        "draft_writers": lambda: draft_writers(session),
        "lead_to_draft": lambda: lead_to_draft(session, lead_bounds),
        "canary": lambda: canary(session, canary_goal_seconds),
    }
    for name, read in readers.items():
        try:
            with session.begin_nested():
                setattr(figures, name, read())
        except DBAPIError as error:
            if not _statement_failed(error):
                raise
            figures.missing[name] = type(error.orig).__name__
    return figures
