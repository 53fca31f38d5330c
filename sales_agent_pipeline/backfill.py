"""Re-runs of past leads: which workflows a window holds, and what a re-run would do upstream.

What a re-run does follows from the exactly-once records: a draft that exists is updated, a
sent email and a created task are left alone, a contact is upserted by email again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import (
    DraftEmail,
    FormSubmission,
    IdempotencyKey,
    Tenant,
    Workflow,
)
from sales_agent_pipeline.domain.enums import IdempotencyStatus

TASK_SCOPE = "hubspot.task.create"


@dataclass(frozen=True)
class RerunPlan:
    """What re-running one workflow would do in HubSpot and Gmail."""

    workflow_id: uuid.UUID
    email: str
    status: str
    created_at: datetime
    contact: str
    gmail: str
    task: str


def workflows_in_window(
    session: Session,
    since: datetime,
    until: datetime,
    portal_id: int | None = None,
    import_id: uuid.UUID | None = None,
) -> list[Workflow]:
    """Workflows created in [since, until), oldest first; one tenant's or one import's."""
    query = select(Workflow).where(Workflow.created_at >= since, Workflow.created_at < until)
    if import_id is not None:
        query = query.join(FormSubmission, FormSubmission.id == Workflow.form_submission_id).where(
            FormSubmission.import_id == import_id
        )
    if portal_id is not None:
        query = query.join(Tenant, Tenant.id == Workflow.tenant_id).where(
            Tenant.portal_id == portal_id
        )
    return list(session.scalars(query.order_by(Workflow.created_at, Workflow.id)))


def plan_reruns(session: Session, workflows: list[Workflow]) -> list[RerunPlan]:
    """Per workflow: create, update or leave alone, from our records alone (reads only)."""
    ids = [workflow.id for workflow in workflows]
    drafts = {
        draft.workflow_id: draft
        for draft in session.scalars(select(DraftEmail).where(DraftEmail.workflow_id.in_(ids)))
    }
    tasks = {
        record.workflow_id: record
        for record in session.scalars(
            select(IdempotencyKey).where(
                IdempotencyKey.scope == TASK_SCOPE, IdempotencyKey.workflow_id.in_(ids)
            )
        )
    }
    plans = []
    for workflow in workflows:
        draft = drafts.get(workflow.id)
        if draft is not None and draft.sent:
            gmail = (
                f"leave alone (email sent {draft.sent_at:%Y-%m-%d %H:%M})"
                if draft.sent_at
                else ("leave alone (email sent)")
            )
        elif draft is not None and draft.gmail_draft_id:
            gmail = f"update draft {draft.gmail_draft_id}"
        else:
            gmail = "create draft"
        record = tasks.get(workflow.id)
        if record is not None and record.status == IdempotencyStatus.COMPLETED.value:
            task_id = (record.result or {}).get("id", "?")
            task = f"leave alone (task {task_id})"
        elif record is not None and record.status == IdempotencyStatus.PENDING.value:
            task = "find by marker, create only if missing"
        else:
            task = "create task"
        contact = (
            "update contact"
            if record is not None or draft is not None
            else "create or update contact"
        )
        plans.append(
            RerunPlan(
                workflow_id=workflow.id,
                email=workflow.prospect_email,
                status=workflow.status,
                created_at=workflow.created_at,
                contact=contact,
                gmail=gmail,
                task=task,
            )
        )
    return plans
