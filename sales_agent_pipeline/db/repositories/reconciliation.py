"""Reconciliation's queries: form cursors, what we hold of an upstream window, coverage
reports, the backlog, and the outputs whose drift is checked."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import (
    DraftEmail,
    FormCursor,
    FormSubmission,
    HubspotTask,
    ReconciliationReport,
    Tenant,
    Workflow,
    WorkflowEvent,
)
from sales_agent_pipeline.db.repositories.outbox import AWAITING
from sales_agent_pipeline.domain.enums import SubmissionSource, WorkflowStatus


def tenants(session: Session, portal_ids: Collection[int] = ()) -> list[Tenant]:
    """Every tenant, or those of the given portals, detached for use outside the session."""
    query = select(Tenant).order_by(Tenant.portal_id)
    if portal_ids:
        query = query.where(Tenant.portal_id.in_(list(portal_ids)))
    found = list(session.scalars(query))
    for tenant in found:
        session.expunge(tenant)
    return found


# What sources_of says of a synthetic canary's submission: never "webhook" (a delivery of
# the form's), and held (never missing), whatever a listing says of its id.
SYNTHETIC = "synthetic"


def _not_synthetic() -> Any:
    # Submissions whose workflow is a canary's: the canary posts them, HubSpot never lists them.
    return FormSubmission.id.not_in(select(Workflow.form_submission_id).where(Workflow.synthetic))


def delivered_forms(session: Session, tenant_id: uuid.UUID) -> list[str]:
    """The forms the tenant's own signed webhook deliveries came with, sorted (the canary's
    synthetic deliveries left out: its form need not exist in HubSpot)."""
    return list(
        session.scalars(
            select(FormSubmission.form_id)
            .where(
                FormSubmission.tenant_id == tenant_id,
                FormSubmission.source == SubmissionSource.WEBHOOK.value,
                _not_synthetic(),
            )
            .distinct()
            .order_by(FormSubmission.form_id)
        )
    )


def cursor(session: Session, tenant_id: uuid.UUID, form_id: str) -> datetime | None:
    """The newest submission time reconciliation has seen for this form, if any."""
    return session.scalar(
        select(FormCursor.last_submitted_at).where(
            FormCursor.tenant_id == tenant_id, FormCursor.form_id == form_id
        )
    )


def advance_cursor(
    session: Session, tenant_id: uuid.UUID, form_id: str, newest: datetime | None
) -> None:
    """Move the form's cursor forward to `newest` (never back) and note the run."""
    statement = insert(FormCursor).values(
        tenant_id=tenant_id, form_id=form_id, last_submitted_at=newest, last_run_at=func.now()
    )
    current = FormCursor.__table__.c.last_submitted_at
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id", "form_id"],
        set_={
            # GREATEST ignores NULLs: an empty window keeps the cursor where it was.
            "last_submitted_at": func.greatest(current, statement.excluded.last_submitted_at),
            "last_run_at": func.now(),
            "updated_at": func.now(),
        },
    )
    session.execute(statement)


def sources_of(session: Session, portal_id: int, submission_ids: Sequence[str]) -> dict[str, str]:
    """The source (webhook, reconciliation, import) of each of these submissions we hold;
    SYNTHETIC for a canary's."""
    if not submission_ids:
        return {}
    rows = session.execute(
        select(FormSubmission.hubspot_submission_id, FormSubmission.source, Workflow.synthetic)
        .outerjoin(Workflow, Workflow.form_submission_id == FormSubmission.id)
        .where(
            FormSubmission.portal_id == portal_id,
            FormSubmission.hubspot_submission_id.in_(list(submission_ids)),
        )
    ).all()
    return {
        str(submission_id): SYNTHETIC if synthetic else str(source)
        for submission_id, source, synthetic in rows
    }


def backlog(session: Session, tenant_id: uuid.UUID, form_id: str, older_than: timedelta) -> int:
    """Workflows of this form still waiting (received or queued) for longer than `older_than`."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Workflow)
            .join(FormSubmission, Workflow.form_submission_id == FormSubmission.id)
            .where(
                Workflow.tenant_id == tenant_id,
                FormSubmission.form_id == form_id,
                Workflow.status.in_(AWAITING),
                Workflow.created_at < func.now() - older_than,
                # A late canary is the canary alert's, not the form's backlog.
                Workflow.synthetic.is_(False),
            )
        )
        or 0
    )


def add_report(session: Session, **values: Any) -> ReconciliationReport:
    """Write one run's coverage for one tenant and form."""
    report = ReconciliationReport(**values)
    session.add(report)
    session.flush()
    return report


def previous_report(
    session: Session, tenant_id: uuid.UUID, form_id: str, before_id: int
) -> ReconciliationReport | None:
    """The report written for this tenant and form before report `before_id`."""
    return session.scalar(
        select(ReconciliationReport)
        .where(
            ReconciliationReport.tenant_id == tenant_id,
            ReconciliationReport.form_id == form_id,
            ReconciliationReport.id < before_id,
        )
        .order_by(ReconciliationReport.id.desc())
        .limit(1)
    )


def reports_of_run(session: Session, run_id: str) -> list[ReconciliationReport]:
    """Every report one reconciliation run wrote."""
    return list(
        session.scalars(
            select(ReconciliationReport)
            .where(ReconciliationReport.dagster_run_id == run_id)
            .order_by(ReconciliationReport.id)
        )
    )


@dataclass(frozen=True)
class Outputs:
    """What one succeeded workflow left in HubSpot and Gmail, and the drift already noted."""

    workflow_id: uuid.UUID
    hubspot_task_id: str | None
    gmail_draft_id: str | None
    draft_to: str | None
    draft_sent: bool
    noted: frozenset[str]


def recent_outputs(
    session: Session, since: datetime, tenant_ids: Collection[uuid.UUID] | None = None
) -> list[Outputs]:
    """Succeeded workflows completed since `since` (of these tenants; None: all), with their
    task, draft and drift events."""
    query = (
        select(
            Workflow.id,
            HubspotTask.hubspot_task_id,
            DraftEmail.gmail_draft_id,
            DraftEmail.to_email,
            DraftEmail.sent,
        )
        .outerjoin(HubspotTask, HubspotTask.workflow_id == Workflow.id)
        .outerjoin(DraftEmail, DraftEmail.workflow_id == Workflow.id)
        .where(
            Workflow.status == WorkflowStatus.SUCCEEDED.value,
            Workflow.completed_at >= since,
            Workflow.synthetic.is_(False),
        )
        .order_by(Workflow.completed_at)
    )
    if tenant_ids is not None:
        query = query.where(Workflow.tenant_id.in_(list(tenant_ids)))
    rows = session.execute(query).all()
    noted: dict[uuid.UUID, set[str]] = {}
    if rows:
        for workflow_id, event_type in session.execute(
            select(WorkflowEvent.workflow_id, WorkflowEvent.event_type).where(
                WorkflowEvent.workflow_id.in_([row[0] for row in rows]),
                WorkflowEvent.event_type.like("drift.%"),
            )
        ):
            noted.setdefault(workflow_id, set()).add(event_type)
    return [
        Outputs(
            workflow_id=workflow_id,
            hubspot_task_id=task_id,
            gmail_draft_id=draft_id,
            draft_to=to_email,
            draft_sent=bool(sent),
            noted=frozenset(noted.get(workflow_id, ())),
        )
        for workflow_id, task_id, draft_id, to_email, sent in rows
    ]
