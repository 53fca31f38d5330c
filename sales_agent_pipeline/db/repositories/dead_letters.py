"""The dead-letter queue's rows: workflows whose transient retries ran out, waiting for their
next automatic re-drive or for a person.

Taking a dead letter out of the queue (a re-drive, a replay) makes it look like the
webhook's outbox row: queued, no run asked for, so the launch sensors run it through the
same path as any lead; its idempotency records keep every effect single.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.domain.enums import WorkflowStatus

DEAD_LETTER = WorkflowStatus.DEAD_LETTER.value


@dataclass(frozen=True)
class DeadLetter:
    """One workflow in the queue, as the CLI, the API and the job show it."""

    workflow_id: uuid.UUID
    portal_id: int
    prospect_email: str
    error_class: str | None
    failure_reason: str | None
    redrives: int
    next_redrive_at: datetime | None
    dead_since: datetime | None
    created_at: datetime


def list_dead_letters(
    session: Session, tenant_id: uuid.UUID | None, limit: int
) -> list[DeadLetter]:
    """The queue (of one tenant, or of all for None), newest dead letter first."""
    statement = (
        select(Workflow, Tenant.portal_id)
        .join(Tenant, Tenant.id == Workflow.tenant_id)
        .where(Workflow.status == DEAD_LETTER)
        .order_by(Workflow.completed_at.desc().nulls_last(), Workflow.id)
        .limit(limit)
    )
    if tenant_id is not None:
        statement = statement.where(Workflow.tenant_id == tenant_id)
    return [
        DeadLetter(
            workflow_id=workflow.id,
            portal_id=portal_id,
            prospect_email=workflow.prospect_email,
            error_class=workflow.error_class,
            failure_reason=workflow.failure_reason,
            redrives=workflow.redrives,
            next_redrive_at=workflow.next_redrive_at,
            dead_since=workflow.completed_at,
            created_at=workflow.created_at,
        )
        for workflow, portal_id in session.execute(statement).all()
    ]


def lock(
    session: Session, workflow_ids: Sequence[uuid.UUID], tenant_id: uuid.UUID | None
) -> dict[uuid.UUID, str]:
    """Lock these workflows (of the tenant, when given) against a concurrent re-drive or
    action; their statuses. An id missing from the answer is not there, or not the tenant's."""
    statement = select(Workflow.id, Workflow.status).where(Workflow.id.in_(workflow_ids))
    if tenant_id is not None:
        statement = statement.where(Workflow.tenant_id == tenant_id)
    rows = session.execute(statement.order_by(Workflow.id).with_for_update()).all()
    return {workflow_id: status for workflow_id, status in rows}  # noqa: C416 (rows, not pairs)


def lock_all(session: Session, tenant_id: uuid.UUID | None) -> list[uuid.UUID]:
    """Lock every dead letter (of the tenant, when given); those a re-drive holds are left."""
    statement = select(Workflow.id).where(Workflow.status == DEAD_LETTER)
    if tenant_id is not None:
        statement = statement.where(Workflow.tenant_id == tenant_id)
    return list(session.scalars(statement.order_by(Workflow.id).with_for_update(skip_locked=True)))


_BACK_TO_THE_OUTBOX = {
    "status": WorkflowStatus.QUEUED.value,
    "run_requested_at": None,
    "dagster_run_id": None,
    "next_redrive_at": None,
    "started_at": None,
    # A new round: the stuck sweep's bound on lost runs starts again (`redrives` counts the
    # rounds), and the launch sensor's run key differs by the claim's time anyway.
    "attempts": 0,
}


def requeue(
    session: Session, workflow_ids: Sequence[uuid.UUID], *, automatic: bool
) -> list[tuple[uuid.UUID, int]]:
    """Queue these dead letters for a run; an automatic re-drive counts towards the
    schedule, a person's replay starts the schedule again. Each with its redrives after."""
    rows = session.execute(
        update(Workflow)
        .where(Workflow.id.in_(workflow_ids), Workflow.status == DEAD_LETTER)
        .values(**_BACK_TO_THE_OUTBOX, redrives=Workflow.redrives + 1 if automatic else 0)
        .returning(Workflow.id, Workflow.redrives)
    ).all()
    return [(workflow_id, count) for workflow_id, count in rows]


def take_due(session: Session, limit: int) -> list[tuple[uuid.UUID, int]]:
    """Queue up to `limit` dead letters whose re-drive is due, oldest due first; each with
    its redrives after. One statement over rows locked with SKIP LOCKED: two ticks (or a
    tick and a person's action) never re-drive one twice."""
    due = (
        select(Workflow.id)
        .where(Workflow.status == DEAD_LETTER, Workflow.next_redrive_at <= func.now())
        .order_by(Workflow.next_redrive_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return requeue(session, list(session.scalars(due)), automatic=True)


def discard(session: Session, workflow_ids: Sequence[uuid.UUID], reason: str) -> None:
    """Fail these dead letters for good with the reason; no re-drive follows."""
    session.execute(
        update(Workflow)
        .where(Workflow.id.in_(workflow_ids), Workflow.status == DEAD_LETTER)
        .values(status=WorkflowStatus.FAILED.value, failure_reason=reason, next_redrive_at=None)
    )
