"""Our own record of what a workflow wrote where: the draft, the mail, the task."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Protocol

from sales_agent_pipeline.domain.compliance import SuppressionReason
from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import DriveFile, Task
from sales_agent_pipeline.domain.workflow import DraftContent, MailOutcome, PreviousMail


class LeadRecords(Protocol):
    """The steps' writes to our database; each call is one short transaction."""

    def note_lead(self, workflow_id: uuid.UUID, lead: Lead) -> None:
        """Keep the lead's industry and job title on its submission (step 6 matches them)."""
        ...

    def suppress(
        self,
        tenant_id: uuid.UUID,
        workflow_id: uuid.UUID,
        address: str,
        reason: SuppressionReason,
        *,
        source: str | None = None,
    ) -> str:
        """Put the address on the tenant's suppression list (a no-op when it is there, the
        first entry's reason kept); the label of the entry that now suppresses it."""
        ...

    def mail_block(self, tenant_id: uuid.UUID, workflow_id: uuid.UUID, address: str) -> str | None:
        """Why the address may not be mailed now, or None: the suppression's label (the
        address's own entry, else its domain's), or the workflow's stop reason."""
        ...

    def save_draft(
        self, workflow_id: uuid.UUID, content: DraftContent, assets: list[DriveFile]
    ) -> None:
        """Store what the draft says before Gmail sees it; a sent draft is never changed."""
        ...

    def previous_mail(self, workflow_id: uuid.UUID) -> PreviousMail | None:
        """What an earlier run of the workflow left in Gmail, if anything (the day's sends
        are the send gate's to count, at send time)."""
        ...

    def record_mail(self, workflow_id: uuid.UUID, outcome: MailOutcome) -> None:
        """Where Gmail put the draft or the sent message; a lead not mailed has its draft
        row and workflow marked with why (outcome.suppressed_reason)."""
        ...

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
        ...

    def finish(self, workflow_id: uuid.UUID, mode: WorkflowMode | None) -> None:
        """Close the workflow as succeeded, in the mode its mail went out in."""
        ...
