"""Bulk imports: the import row, its leads in bulk, their progress and their launch."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import FormSubmission, LeadImport, Tenant, Workflow
from sales_agent_pipeline.db.repositories.breakers import stopped_tenants
from sales_agent_pipeline.db.repositories.workflows import due
from sales_agent_pipeline.domain.enums import WorkflowStatus

AWAITING = (WorkflowStatus.RECEIVED.value, WorkflowStatus.QUEUED.value)
DONE = (
    WorkflowStatus.SUCCEEDED.value,
    WorkflowStatus.SKIPPED.value,
)
FAILED = (WorkflowStatus.FAILED.value, WorkflowStatus.REJECTED.value)
# Rows per INSERT statement: well under PostgreSQL's 65,535 bind parameters.
_CHUNK = 1000


def known_emails(session: Session, tenant_id: uuid.UUID, emails: Iterable[str]) -> set[str]:
    """The addresses this tenant already has a submission from."""
    wanted = sorted(set(emails))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        found.update(
            session.scalars(
                select(FormSubmission.email).where(
                    FormSubmission.tenant_id == tenant_id,
                    FormSubmission.email.in_(wanted[start : start + _CHUNK]),
                )
            )
        )
    return found


def create_import(
    session: Session,
    import_id: uuid.UUID,
    tenant: Tenant,
    *,
    filename: str,
    created_by: str,
    rows_total: int,
    rows_accepted: int,
    rejections: list[dict[str, Any]],
) -> None:
    """The import row with its counts and rejected rows."""
    session.execute(
        insert(LeadImport).values(
            id=import_id,
            tenant_id=tenant.id,
            filename=filename,
            created_by=created_by,
            status="accepted" if rows_accepted else "completed",
            rows_total=rows_total,
            rows_accepted=rows_accepted,
            rows_rejected=len(rejections),
            rejections=rejections,
            completed_at=None if rows_accepted else utcnow(),
        )
    )


def get_import(session: Session, tenant_id: uuid.UUID, import_id: uuid.UUID) -> LeadImport | None:
    """The tenant's import, or None (another tenant's import is not found either)."""
    return session.scalar(
        select(LeadImport).where(LeadImport.id == import_id, LeadImport.tenant_id == tenant_id)
    )


@dataclass(frozen=True)
class Progress:
    """Where an import's leads are."""

    done: int
    failed: int
    # Out of the runs, not finished: re-driven automatically, or kept for a person.
    dead_letter: int
    remaining: int
    running: int
    started_at: datetime | None
    last_completed_at: datetime | None


def progress(session: Session, import_id: uuid.UUID) -> Progress:
    """Counts of the import's workflows by outcome, and when work on them began and last ended."""
    rows = session.execute(
        select(
            Workflow.status,
            func.count(),
            func.min(Workflow.started_at),
            func.max(Workflow.completed_at),
        )
        .join(FormSubmission, Workflow.form_submission_id == FormSubmission.id)
        .where(FormSubmission.import_id == import_id)
        .group_by(Workflow.status)
    ).all()
    counts = {status: count for status, count, _, _ in rows}
    starts = [start for _, _, start, _ in rows if start is not None]
    ends = [end for _, _, _, end in rows if end is not None]
    return Progress(
        done=sum(counts.get(s, 0) for s in DONE),
        failed=sum(counts.get(s, 0) for s in FAILED),
        dead_letter=counts.get(WorkflowStatus.DEAD_LETTER.value, 0),
        remaining=sum(counts.get(s, 0) for s in (*AWAITING, WorkflowStatus.RUNNING.value)),
        running=counts.get(WorkflowStatus.RUNNING.value, 0),
        started_at=min(starts) if starts else None,
        last_completed_at=max(ends) if ends else None,
    )


@dataclass(frozen=True)
class ImportWork:
    """A tenant's imported leads waiting for a run."""

    tenant_id: uuid.UUID
    portal_id: int
    import_id: uuid.UUID


def waiting_imports(session: Session) -> list[ImportWork]:
    """Every (tenant, import) with leads nobody asked a run for, oldest import first; not
    those of tenants that cannot run now (disabled, needing re-authorisation, or with a
    vendor's circuit breaker open)."""
    rows = session.execute(
        select(Tenant.id, Tenant.portal_id, FormSubmission.import_id, func.min(Workflow.created_at))
        .join(Workflow, Workflow.form_submission_id == FormSubmission.id)
        .join(Tenant, Tenant.id == Workflow.tenant_id)
        .where(
            FormSubmission.import_id.is_not(None),
            Workflow.status.in_(AWAITING),
            Workflow.run_requested_at.is_(None),
            due(),
            # A disabled tenant's import, or one needing re-authorisation, waits.
            Tenant.disabled_at.is_(None),
            Tenant.auth_error.is_(None),
            # So does one whose vendor's circuit breaker stops its calls (it would only wait).
            Tenant.id.not_in(stopped_tenants()),
        )
        .group_by(Tenant.id, Tenant.portal_id, FormSubmission.import_id)
        .order_by(func.min(Workflow.created_at))
    ).all()
    return [
        ImportWork(tenant, portal, import_id)
        for tenant, portal, import_id, _ in rows
        if import_id is not None
    ]


def claim_import_leads(session: Session, import_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
    """Mark up to `limit` of an import's waiting leads as asked-for; returns them in order.

    SKIP LOCKED, like the live sensor's claim: two ticks never take one row.
    """
    candidates = (
        select(Workflow.id)
        .join(FormSubmission, Workflow.form_submission_id == FormSubmission.id)
        .where(
            FormSubmission.import_id == import_id,
            Workflow.status.in_(AWAITING),
            Workflow.run_requested_at.is_(None),
            due(),
        )
        .order_by(Workflow.created_at, Workflow.id)
        .limit(limit)
        .with_for_update(of=Workflow, skip_locked=True)
    )
    claimed = session.scalars(
        update(Workflow)
        .where(Workflow.id.in_(candidates.scalar_subquery()))
        .values(run_requested_at=func.now())
        .returning(Workflow.id)
    ).all()
    return sorted(claimed, key=str)


def mark_running(session: Session, import_id: uuid.UUID) -> None:
    """The import's first run was asked for."""
    session.execute(
        update(LeadImport)
        .where(LeadImport.id == import_id, LeadImport.status == "accepted")
        .values(status="running")
    )


def close_finished(session: Session) -> int:
    """Mark running imports whose leads have all ended as completed; returns how many."""
    open_leads = (
        select(FormSubmission.id)
        .join(Workflow, Workflow.form_submission_id == FormSubmission.id)
        .where(
            FormSubmission.import_id == LeadImport.id,
            Workflow.status.in_((*AWAITING, WorkflowStatus.RUNNING.value)),
        )
        .exists()
    )
    result = session.execute(
        update(LeadImport)
        .where(LeadImport.status.in_(("accepted", "running")), ~open_leads)
        .values(status="completed", completed_at=utcnow())
        .returning(LeadImport.id)
    )
    return len(result.all())
