"""Past leads of a tenant, for step 6's comparison."""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import DraftEmail, FormSubmission, HubspotTask, Workflow
from sales_agent_pipeline.domain.enums import TaskStatus
from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.workflow import PastLead

# Industry and job title are compared among the tenant's newest workflows only: the
# evidence that matters is recent, and the query must not grow with the tenant's history
# (compared against all of it, it read every workflow: 34 ms a lead at 10,000, more later).
RECENT_CANDIDATES = 1000


def similar_leads(
    session: Session,
    tenant_id: uuid.UUID,
    exclude: uuid.UUID,
    lead: Lead,
    limit: int = 50,
    recent: int = RECENT_CANDIDATES,
) -> list[PastLead]:
    """The tenant's past workflows of the same domain (any age), or of the same industry or
    job title (among its `recent` newest), newest first."""
    mine = (Workflow.tenant_id == tenant_id, Workflow.id != exclude)
    # Each part walks an index newest first and stops early: (email_domain, created_at)
    # for the domain, (tenant_id, created_at) for the newest workflows.
    same_domain = (
        select(Workflow.id)
        .where(*mine, Workflow.email_domain == lead.email_domain)
        .order_by(Workflow.created_at.desc())
        .limit(limit)
    )
    parts = [same_domain]
    if lead.industry or lead.job_title:
        # Joined inside the LIMIT: the newest workflows, then their submissions by key.
        newest = (
            select(
                Workflow.id, Workflow.created_at, FormSubmission.industry, FormSubmission.job_title
            )
            .join(FormSubmission, Workflow.form_submission_id == FormSubmission.id)
            .where(*mine)
            .order_by(Workflow.created_at.desc())
            .limit(recent)
            .subquery()
        )
        alike = []
        if lead.industry:
            alike.append(func.lower(newest.c.industry) == lead.industry.lower())
        if lead.job_title:
            alike.append(func.lower(newest.c.job_title) == lead.job_title.lower())
        parts.append(
            select(newest.c.id).where(or_(*alike)).order_by(newest.c.created_at.desc()).limit(limit)
        )
    candidates = union(*(part.subquery().select() for part in parts)).subquery()
    rows = session.execute(
        select(
            Workflow.email_domain,
            FormSubmission.industry,
            FormSubmission.job_title,
            Workflow.status,
            func.coalesce(DraftEmail.sent, False),
            HubspotTask.status == TaskStatus.COMPLETED.value,
            Workflow.created_at,
        )
        .join(FormSubmission, Workflow.form_submission_id == FormSubmission.id)
        .outerjoin(DraftEmail, DraftEmail.workflow_id == Workflow.id)
        .outerjoin(HubspotTask, HubspotTask.workflow_id == Workflow.id)
        .where(Workflow.id.in_(select(candidates.c.id)))
        .order_by(Workflow.created_at.desc())
        .limit(limit)
    ).all()
    return [
        PastLead(
            email_domain=domain,
            industry=industry,
            job_title=title,
            status=status,
            draft_sent=bool(sent),
            task_completed=bool(completed),
            created_at=created_at,
        )
        for domain, industry, title, status, sent, completed, created_at in rows
    ]


class PostgresLeadHistory:
    """LeadHistory over PostgreSQL for one workflow (a short read-only transaction per call)."""

    def __init__(
        self, sessions: sessionmaker[Session], tenant_id: uuid.UUID, workflow_id: uuid.UUID
    ) -> None:
        self._sessions = sessions
        self._tenant_id = tenant_id
        self._workflow_id = workflow_id

    def similar_leads(self, lead: Lead, limit: int = 50) -> list[PastLead]:
        """Past leads like this one."""
        with self._sessions() as session:
            return similar_leads(session, self._tenant_id, self._workflow_id, lead, limit)
