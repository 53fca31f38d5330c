"""Past leads of a tenant, for step 6's comparison."""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import DraftEmail, FormSubmission, HubspotTask, Workflow
from sales_agent_pipeline.domain.enums import TaskStatus
from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.workflow import PastLead


def similar_leads(
    session: Session, tenant_id: uuid.UUID, exclude: uuid.UUID, lead: Lead, limit: int = 50
) -> list[PastLead]:
    """The tenant's past workflows of the same domain, industry or job title, newest first."""
    matches = [Workflow.email_domain == lead.email_domain]
    if lead.industry:
        matches.append(func.lower(FormSubmission.industry) == lead.industry.lower())
    if lead.job_title:
        matches.append(func.lower(FormSubmission.job_title) == lead.job_title.lower())
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
        .where(Workflow.tenant_id == tenant_id, Workflow.id != exclude, or_(*matches))
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
