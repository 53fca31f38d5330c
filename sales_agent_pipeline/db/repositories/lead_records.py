"""The steps' writes to our own tables, each in its own short transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import DraftEmail, FormSubmission, Workflow
from sales_agent_pipeline.db.repositories import outputs, suppressions, workflows
from sales_agent_pipeline.domain.compliance import Suppression, SuppressionKind, SuppressionReason
from sales_agent_pipeline.domain.enums import WorkflowMode, WorkflowStatus
from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import DriveFile, Task
from sales_agent_pipeline.domain.workflow import DraftContent, MailOutcome, PreviousMail

# What suppresses an address in the caller's transaction: B's use case (the entry, then
# the tenant's pending scheduled sends to it cancelled), injected by the shell; the
# repository's own add (the entry alone) when none is given.
Suppress = Callable[..., bool]


def _add_only(
    session: Session,
    tenant_id: uuid.UUID,
    value: str,
    reason: SuppressionReason,
    *,
    source: str | None = None,
    workflow_id: uuid.UUID | None = None,
) -> bool:
    return suppressions.add(
        session,
        tenant_id,
        SuppressionKind.ADDRESS,
        value,
        reason,
        source=source,
        workflow_id=workflow_id,
    )


def mail_block(
    session: Session, tenant_id: uuid.UUID, workflow_id: uuid.UUID, address: str
) -> str | None:
    """Why the workflow's mail to `address` may not go: the suppression's label (the
    address's own entry first, else its domain's), else the workflow's stop reason."""
    found: Suppression | None = suppressions.find(session, tenant_id, address)
    if found is not None:
        return found.label
    stopped = session.scalar(select(Workflow.stopped_reason).where(Workflow.id == workflow_id))
    return f"stopped ({stopped})" if stopped else None


class PostgresLeadRecords:
    """LeadRecords over PostgreSQL."""

    def __init__(self, sessions: sessionmaker[Session], suppress: Suppress = _add_only) -> None:
        self._sessions = sessions
        self._suppress = suppress

    def suppress(
        self,
        tenant_id: uuid.UUID,
        workflow_id: uuid.UUID,
        address: str,
        reason: SuppressionReason,
        *,
        source: str | None = None,
    ) -> str:
        """The address suppressed (a no-op when it was); the label of what suppresses it."""
        with self._sessions.begin() as session:
            self._suppress(
                session,
                tenant_id,
                address,
                reason,
                source=source,
                workflow_id=workflow_id,
            )
            found = suppressions.find(session, tenant_id, address)
        if found is None:  # pragma: no cover - the entry was just written
            return Suppression(
                kind=SuppressionKind.ADDRESS, value=address, reason=reason, source=source
            ).label
        return found.label

    def mail_block(self, tenant_id: uuid.UUID, workflow_id: uuid.UUID, address: str) -> str | None:
        """Why the lead may not be mailed now, or None."""
        with self._sessions.begin() as session:
            return mail_block(session, tenant_id, workflow_id, address)

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
        """Where Gmail put the draft or the sent message, and the mailbox it is in (the
        owner's or the tenant's sender: kept here, in the step's one transaction, not by
        step 2); a lead not mailed is marked."""
        with self._sessions.begin() as session:
            outputs.record_mail(session, workflow_id, outcome)
            reason = outcome.suppressed_reason
            session.execute(
                update(DraftEmail)
                .where(
                    DraftEmail.workflow_id == workflow_id,
                    DraftEmail.suppressed_reason.is_distinct_from(reason),
                )
                .values(suppressed_reason=reason)
            )
            session.execute(
                update(Workflow)
                .where(Workflow.id == workflow_id)
                .values(suppressed_reason=reason, mailbox=outcome.mailbox)
            )

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
