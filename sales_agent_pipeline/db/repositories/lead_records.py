"""The steps' writes to our own tables, each in its own short transaction."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import FormSubmission, Workflow
from sales_agent_pipeline.db.repositories import outputs, workflows
from sales_agent_pipeline.domain.enums import WorkflowMode, WorkflowStatus
from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import DriveFile, Task
from sales_agent_pipeline.domain.workflow import DraftContent, MailOutcome, PreviousMail


class PostgresLeadRecords:
    """LeadRecords over PostgreSQL."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def note_lead(self, workflow_id: uuid.UUID, lead: Lead) -> None:
        """Keep the lead's industry and job title on its submission."""
        with self._sessions.begin() as session:
            submission_id = (
                select(Workflow.form_submission_id)
                .where(Workflow.id == workflow_id)
                .scalar_subquery()
            )
            session.execute(
                update(FormSubmission)
                .where(FormSubmission.id == submission_id)
                .values(industry=lead.industry, job_title=lead.job_title)
            )

    def save_draft(
        self, workflow_id: uuid.UUID, content: DraftContent, assets: list[DriveFile]
    ) -> None:
        """Store what the draft says."""
        with self._sessions.begin() as session:
            outputs.save_draft_content(session, workflow_id, content, assets)

    def previous_mail(self, workflow_id: uuid.UUID) -> PreviousMail | None:
        """The earlier run's mail, if it left any."""
        with self._sessions.begin() as session:
            row = outputs.get_draft(session, workflow_id)
            if row is None or not (row.gmail_draft_id or row.sent):
                return None
            return PreviousMail(
                draft_id=row.gmail_draft_id,
                message_id=row.gmail_message_id,
                thread_id=row.gmail_thread_id,
                sent=row.sent,
            )

    def record_mail(self, workflow_id: uuid.UUID, outcome: MailOutcome) -> None:
        """Where Gmail put the draft or the sent message."""
        with self._sessions.begin() as session:
            outputs.record_mail(session, workflow_id, outcome)

    def save_task(
        self,
        workflow_id: uuid.UUID,
        task: Task,
        *,
        contact_id: str,
        company_id: str | None,
        owner_id: str | None,
        due_date: date,
    ) -> None:
        """Our record of the HubSpot task."""
        with self._sessions.begin() as session:
            outputs.save_task(
                session,
                workflow_id,
                task,
                contact_id=contact_id,
                company_id=company_id,
                owner_id=owner_id,
                due_date=due_date,
            )

    def finish(self, workflow_id: uuid.UUID, mode: WorkflowMode | None) -> None:
        """Close the workflow as succeeded."""
        with self._sessions.begin() as session:
            workflows.finish(session, workflow_id, WorkflowStatus.SUCCEEDED, mode=mode)
