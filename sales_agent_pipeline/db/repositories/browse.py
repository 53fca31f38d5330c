"""Read queries of the operator API, always scoped to one tenant, newest first (keyset pages)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import (
    DraftEmail,
    FormSubmission,
    HubspotTask,
    Workflow,
    WorkflowError,
    WorkflowEvent,
)

T = TypeVar("T")

# A page position: the (created_at, id) of the last row already seen.
Position = tuple[datetime, uuid.UUID]


@dataclass(frozen=True)
class WorkflowFilter:
    """What GET /api/workflows narrows by; None means no filter."""

    status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    email: str | None = None
    domain: str | None = None
    # The synthetic canary's workflows (true) or the others (false, the default).
    synthetic: bool = False


@dataclass(frozen=True)
class WorkflowDetail:
    """A workflow with its submission, draft and task."""

    workflow: Workflow
    submission: FormSubmission
    draft: DraftEmail | None
    task: HubspotTask | None


def _page(statement: Select[T], session: Session, limit: int) -> tuple[list[T], bool]:
    rows = list(session.scalars(statement.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def list_workflows(
    session: Session,
    tenant_id: uuid.UUID,
    where: WorkflowFilter,
    *,
    after: Position | None,
    limit: int,
) -> tuple[list[Workflow], bool]:
    """One page of the tenant's workflows, newest first, and whether more follow."""
    statement = select(Workflow).where(
        Workflow.tenant_id == tenant_id, Workflow.synthetic.is_(where.synthetic)
    )
    if where.status is not None:
        statement = statement.where(Workflow.status == where.status)
    if where.created_from is not None:
        statement = statement.where(Workflow.created_at >= where.created_from)
    if where.created_to is not None:
        statement = statement.where(Workflow.created_at < where.created_to)
    if where.email is not None:
        statement = statement.where(func.lower(Workflow.prospect_email) == where.email.lower())
    if where.domain is not None:
        statement = statement.where(Workflow.email_domain == where.domain.lower())
    if after is not None:
        statement = statement.where(tuple_(Workflow.created_at, Workflow.id) < tuple_(*after))
    statement = statement.order_by(Workflow.created_at.desc(), Workflow.id.desc())
    return _page(statement, session, limit)


def get_workflow(
    session: Session, tenant_id: uuid.UUID, workflow_id: uuid.UUID
) -> WorkflowDetail | None:
    """The tenant's workflow with its submission, draft and task; None if not the tenant's."""
    row = session.execute(
        select(Workflow, FormSubmission, DraftEmail, HubspotTask)
        .join(FormSubmission, Workflow.form_submission_id == FormSubmission.id)
        .outerjoin(DraftEmail, DraftEmail.workflow_id == Workflow.id)
        .outerjoin(HubspotTask, HubspotTask.workflow_id == Workflow.id)
        .where(Workflow.id == workflow_id, Workflow.tenant_id == tenant_id)
    ).one_or_none()
    if row is None:
        return None
    workflow, submission, draft, task = row
    return WorkflowDetail(workflow, submission, draft, task)


def workflow_trail(
    session: Session, workflow_id: uuid.UUID
) -> tuple[Sequence[WorkflowEvent], Sequence[WorkflowError]]:
    """The workflow's events and errors, each in the order they were written."""
    events = session.scalars(
        select(WorkflowEvent)
        .where(WorkflowEvent.workflow_id == workflow_id)
        .order_by(WorkflowEvent.id)
    ).all()
    errors = session.scalars(
        select(WorkflowError)
        .where(WorkflowError.workflow_id == workflow_id)
        .order_by(WorkflowError.id)
    ).all()
    return events, errors


def list_drafts(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    sent: bool | None,
    after: Position | None,
    limit: int,
) -> tuple[list[DraftEmail], bool]:
    """One page of the tenant's drafts, newest first, and whether more follow."""
    statement = (
        select(DraftEmail)
        .join(Workflow, DraftEmail.workflow_id == Workflow.id)
        .where(Workflow.tenant_id == tenant_id)
    )
    if sent is not None:
        statement = statement.where(DraftEmail.sent.is_(sent))
    if after is not None:
        statement = statement.where(tuple_(DraftEmail.created_at, DraftEmail.id) < tuple_(*after))
    statement = statement.order_by(DraftEmail.created_at.desc(), DraftEmail.id.desc())
    return _page(statement, session, limit)


def get_draft(session: Session, tenant_id: uuid.UUID, draft_id: uuid.UUID) -> DraftEmail | None:
    """The tenant's draft by its id; None if not the tenant's."""
    return session.scalar(
        select(DraftEmail)
        .join(Workflow, DraftEmail.workflow_id == Workflow.id)
        .where(DraftEmail.id == draft_id, Workflow.tenant_id == tenant_id)
    )
