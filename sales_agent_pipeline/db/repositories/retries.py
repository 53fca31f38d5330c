"""An operator's retry: a failed (or stuck) workflow goes back to the outbox as queued."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Workflow
from sales_agent_pipeline.db.repositories import audit
from sales_agent_pipeline.domain.enums import StepStatus, WorkflowStatus

# Work still in these states is retryable only once nothing has touched it for a while.
IN_FLIGHT = (
    WorkflowStatus.RECEIVED.value,
    WorkflowStatus.QUEUED.value,
    WorkflowStatus.RUNNING.value,
)


class NotRetryable(Exception):
    """The workflow is finished well, rejected, or still in flight."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def requeue_for_retry(
    session: Session,
    tenant_id: uuid.UUID,
    workflow_id: uuid.UUID,
    *,
    stuck_before: datetime,
    actor: str,
) -> Workflow | None:
    """Queue the tenant's failed, dead-lettered or stuck workflow for a new run; None if not
    the tenant's.

    Queued with no run requested is what the webhook's outbox row looks like: the caller's
    launch, or the sensor, starts the run; its claim step and the idempotency records keep
    the effects single. The row lock makes two concurrent retries queue it once.
    """
    workflow = session.scalar(
        select(Workflow)
        .where(Workflow.id == workflow_id, Workflow.tenant_id == tenant_id)
        .with_for_update()
    )
    if workflow is None:
        return None
    # A dead letter retried by hand is a person's replay: its automatic schedule stops.
    failed = workflow.status in (WorkflowStatus.FAILED.value, WorkflowStatus.DEAD_LETTER.value)
    stuck = workflow.status in IN_FLIGHT and workflow.updated_at < stuck_before
    if not (failed or stuck):
        raise NotRetryable(workflow.status)
    audit.record_event(
        session,
        workflow.id,
        event_type="retry_requested",
        status=StepStatus.RETRYING,
        details={
            "requested_by": actor,
            "previous_status": workflow.status,
            "previous_failure": workflow.failure_reason,
            "previous_run_id": workflow.dagster_run_id,
        },
    )
    workflow.status = WorkflowStatus.QUEUED.value
    workflow.next_redrive_at = None
    workflow.redrives = 0
    workflow.run_requested_at = None
    workflow.dagster_run_id = None
    return workflow
