"""An operator's retry of a failed (or stuck) workflow: queued again for a new run.

The new run claims the workflow; drafts, emails and tasks already written are found by their
idempotency records, so a retry never duplicates them. Asking Dagster for the run is the
caller's (after the commit); the sensor starts it when nobody asks.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.repositories.retries import NotRetryable, requeue_for_retry
from sales_agent_pipeline.domain.enums import WorkflowStatus
from sales_agent_pipeline.settings import Settings


class RetryRefused(Exception):
    """The workflow is finished well, rejected, or in flight and not stuck long enough."""

    def __init__(self, status: str, stuck_minutes: float) -> None:
        super().__init__(
            f"the workflow is {status}: only failed or dead-lettered workflows, or ones stuck for "
            f"{stuck_minutes:g} minutes (RECONCILIATION_STUCK_MINUTES), can be retried"
        )
        self.status = status


def requeue_workflow(
    sessions: sessionmaker[Session],
    settings: Settings,
    tenant_id: uuid.UUID,
    workflow_id: uuid.UUID,
    *,
    actor: str,
) -> WorkflowStatus | None:
    """Queue the tenant's workflow for a new run, audited as the actor's; its status then,
    or None when the tenant has no such workflow. RetryRefused when it is not retryable."""
    # In-flight work untouched this long is stuck: the same threshold reconciliation uses.
    stuck_minutes = settings.reconciliation_stuck_minutes
    with sessions.begin() as session:
        try:
            workflow = requeue_for_retry(
                session,
                tenant_id,
                workflow_id,
                stuck_before=utcnow() - timedelta(minutes=stuck_minutes),
                actor=actor,
            )
        except NotRetryable as exc:
            raise RetryRefused(exc.status, stuck_minutes) from None
        if workflow is None:
            return None
        return WorkflowStatus(workflow.status)
