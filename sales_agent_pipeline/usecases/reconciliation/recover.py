"""Page through a form's submissions listing and insert what we lack, through the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import reconciliation as repo
from sales_agent_pipeline.domain.enums import SubmissionSource
from sales_agent_pipeline.domain.errors import LeadRejected, PipelineError
from sales_agent_pipeline.domain.models import UpstreamSubmission
from sales_agent_pipeline.domain.submission import MAX_ID_LENGTH
from sales_agent_pipeline.ports.vendors import CRM
from sales_agent_pipeline.usecases import intake

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Window:
    """How far back one run lists a form: its cursor minus the overlap, or the lookback."""

    overlap: timedelta
    lookback: timedelta
    # Work waiting longer than this counts as backlog.
    stuck_after: timedelta

    def start(self, now: datetime, cursor: datetime | None) -> datetime:
        """The oldest submission time this run looks at."""
        return cursor - self.overlap if cursor is not None else now - self.lookback


@dataclass
class FormCoverage:
    """One run's coverage of one tenant's form."""

    tenant_id: uuid.UUID
    portal_id: int
    form_id: str
    window_start: datetime
    window_end: datetime
    upstream_seen: int = 0
    via_webhook: int = 0
    recovered: int = 0
    missing: int = 0
    backlog: int = 0
    report_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        """Why the form could not be listed, when it could not."""
        value = self.details.get("error")
        return str(value) if value else None


def list_window(
    crm: CRM, form_id: str, since: datetime
) -> tuple[dict[str, UpstreamSubmission], int]:
    """Submissions at or after `since` by conversion id, and the pages read.

    The listing is newest first, so paging stops at the first page that reaches past
    `since`. Offsets shift when a submission arrives mid-way: an entry may be seen twice
    (kept once), never skipped.
    """
    seen: dict[str, UpstreamSubmission] = {}
    after: str | None = None
    pages = 0
    while True:
        page = crm.list_form_submissions(form_id, after)
        pages += 1
        for submission in page.submissions:
            if submission.submitted_at >= since:
                seen.setdefault(submission.conversion_id, submission)
        reached = bool(page.submissions) and page.submissions[-1].submitted_at < since
        if reached or not page.next_after or page.next_after == after:
            return seen, pages
        after = page.next_after


def _insert_missing(
    session: Session,
    tenant: Tenant,
    upstream: dict[str, UpstreamSubmission],
    coverage: FormCoverage,
) -> set[str]:
    """Accept every listed submission we do not hold; returns the ids no lead can come of."""
    held = repo.sources_of(session, tenant.portal_id, list(upstream))
    unusable: dict[str, str] = {}
    for conversion_id, submission in upstream.items():
        if conversion_id in held:
            continue
        try:
            accepted = intake.recover(session, tenant, submission)
        except LeadRejected as exc:
            # The webhook answers such a delivery with a 400: nothing to process either way.
            unusable[conversion_id] = str(exc)
            continue
        # A webhook delivery may land between the SELECT and the insert: then it is its.
        coverage.recovered += 0 if accepted.duplicate else 1
    if unusable:
        coverage.details["unusable"] = unusable
    return set(unusable)


def reconcile_form(
    sessions: sessionmaker[Session],
    crm: Callable[[], CRM],
    tenant: Tenant,
    form_id: str,
    *,
    window: Window,
    now: datetime,
    run_id: str | None,
) -> FormCoverage:
    """List one form back to its window, recover what is missing, advance its cursor, and
    write the coverage report, all in one transaction after the listing.

    `crm` gives the tenant's own CRM connector (its token, its portal): a form is listed
    only with the credentials of the portal it belongs to. When it cannot be built (no
    token stored) the form counts as not listed, with the reason.

    One form never stops the others: whatever fails for it (HubSpot refusing or not
    knowing the form, an entry we cannot read, the database refusing a value) rolls back
    its own transaction only, and a report of its own names the form and the error.
    """
    try:
        coverage = _reconcile(sessions, crm, tenant, form_id, window=window, now=now, run_id=run_id)
    except Exception as exc:  # reported on the form's own row, never raised to the run
        coverage = FormCoverage(tenant.id, tenant.portal_id, form_id, window.start(now, None), now)
        coverage.details["error"] = describe(exc)
        coverage.report_id = _report_failure(sessions, coverage, run_id)
    event = log.error if coverage.error or coverage.missing else log.info
    event(
        "reconciliation.form",
        portal_id=tenant.portal_id,
        form_id=form_id,
        upstream_seen=coverage.upstream_seen,
        via_webhook=coverage.via_webhook,
        recovered=coverage.recovered,
        missing=coverage.missing,
        backlog=coverage.backlog,
        error=coverage.error,
    )
    return coverage


def describe(exc: Exception) -> str:
    """An error as a report shows it: its class and message, never a statement's parameters
    (a database error's text carries the row it refused: a lead's email, its fields)."""
    if isinstance(exc, PipelineError):
        message = exc.message
    elif isinstance(exc, DBAPIError) and exc.orig is not None:
        message = str(exc.orig).splitlines()[0]
    else:
        message = str(exc)
    return f"{type(exc).__name__}: {message}"[:500]


def _report_failure(
    sessions: sessionmaker[Session], coverage: FormCoverage, run_id: str | None
) -> int | None:
    """The failed form's report, in a transaction of its own; None if even that fails."""
    try:
        with sessions.begin() as session:
            report = repo.add_report(
                session,
                tenant_id=coverage.tenant_id,
                form_id=coverage.form_id[:MAX_ID_LENGTH],
                dagster_run_id=run_id,
                window_start=coverage.window_start,
                window_end=coverage.window_end,
                upstream_seen=0,
                via_webhook=0,
                recovered=0,
                missing=0,
                backlog=0,
                details=coverage.details,
            )
            return report.id
    except SQLAlchemyError as exc:
        log.error(
            "reconciliation.report_failed",
            portal_id=coverage.portal_id,
            form_id=coverage.form_id,
            error=describe(exc),
        )
        return None


def _reconcile(
    sessions: sessionmaker[Session],
    crm: Callable[[], CRM],
    tenant: Tenant,
    form_id: str,
    *,
    window: Window,
    now: datetime,
    run_id: str | None,
) -> FormCoverage:
    with sessions.begin() as session:
        start = window.start(now, repo.cursor(session, tenant.id, form_id))
    coverage = FormCoverage(tenant.id, tenant.portal_id, form_id, start, now)
    upstream: dict[str, UpstreamSubmission] = {}
    try:
        upstream, pages = list_window(crm(), form_id, start)
        coverage.details["pages"] = pages
    except (PipelineError, ValueError) as exc:
        # HubSpot refused, or answered an entry we cannot read (ValueError): the cursor
        # stays put, so the next run lists this window again, and the check fails.
        coverage.details["error"] = describe(exc)
    with sessions.begin() as session:
        unusable: set[str] = set()
        if coverage.error is None:
            unusable = _insert_missing(session, tenant, upstream, coverage)
            session.flush()
            held = repo.sources_of(session, tenant.portal_id, list(upstream))
            coverage.upstream_seen = len(upstream)
            coverage.via_webhook = sum(
                1 for source in held.values() if source == SubmissionSource.WEBHOOK.value
            )
            coverage.missing = sum(1 for cid in upstream if cid not in held and cid not in unusable)
            newest = max((s.submitted_at for s in upstream.values()), default=None)
            if coverage.missing == 0:
                repo.advance_cursor(session, tenant.id, form_id, newest)
        coverage.backlog = repo.backlog(session, tenant.id, form_id, window.stuck_after)
        report = repo.add_report(
            session,
            tenant_id=tenant.id,
            form_id=form_id,
            dagster_run_id=run_id,
            window_start=coverage.window_start,
            window_end=coverage.window_end,
            upstream_seen=coverage.upstream_seen,
            via_webhook=coverage.via_webhook,
            recovered=coverage.recovered,
            missing=coverage.missing,
            backlog=coverage.backlog,
            details=coverage.details,
        )
        coverage.report_id = report.id
    return coverage


def forms_of(session: Session, tenant: Tenant) -> list[str]:
    """The forms reconciled for a tenant: its own allowlist; without one (its webhook takes
    any form of its portal), the forms its own signed deliveries came with, so those are
    proven too. A form belongs to one portal: the global ALLOWED_FORM_IDS seeds the
    single-portal tenant's row and applies to no other tenant."""
    if tenant.allowed_form_ids:
        return list(tenant.allowed_form_ids)
    return repo.delivered_forms(session, tenant.id)
