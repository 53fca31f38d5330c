"""An in-memory audit trail (the runner's Trail port) and lead records (LeadRecords)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sales_agent_pipeline.domain.compliance import (
    Suppression,
    SuppressionKind,
    SuppressionReason,
    domain_of,
    normalise_address,
)
from sales_agent_pipeline.domain.enums import ErrorClass, StepStatus, WorkflowMode, WorkflowStatus
from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import DriveFile, Task
from sales_agent_pipeline.domain.workflow import DraftContent, MailOutcome, PreviousMail


@dataclass
class Event:
    """One step event as the trail keeps it."""

    workflow_id: uuid.UUID
    number: int
    step: str
    status: StepStatus
    details: dict[str, Any] = field(default_factory=dict)
    duration_ms: int | None = None


class FakeTrail:
    """The events, errors and workflow ends of one run, in memory."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.errors: list[tuple[uuid.UUID, str, ErrorClass, int]] = []
        self.ended: dict[uuid.UUID, WorkflowStatus] = {}
        self.held: dict[uuid.UUID, str] = {}
        self.not_before: dict[uuid.UUID, float] = {}

    def of(self, workflow_id: uuid.UUID) -> list[tuple[str, StepStatus]]:
        """A lead's trail as (step, status) pairs."""
        return [(e.step, e.status) for e in self.events if e.workflow_id == workflow_id]

    def begin(
        self, step: str, number: int, workflow_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, dict[str, Any]]:
        """The final event's details per lead, as the PostgreSQL trail reads them; a started
        event for each other lead."""
        final = {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED}
        done = {
            e.workflow_id: e.details
            for e in self.events
            if e.step == step and e.status in final and e.workflow_id in workflow_ids
        }
        for workflow_id in workflow_ids:
            if workflow_id not in done:
                self.events.append(Event(workflow_id, number, step, StepStatus.STARTED))
        return done

    def succeeded(
        self, workflow_id: uuid.UUID, number: int, step: str, ms: int, output: dict[str, Any]
    ) -> None:
        """Record a succeeded event with the step's output."""
        event = Event(workflow_id, number, step, StepStatus.SUCCEEDED, {"output": output}, ms)
        self.events.append(event)

    def retrying(
        self,
        workflow_id: uuid.UUID,
        number: int,
        step: str,
        error: BaseException,
        *,
        http_status: int | None,
        retry_after: float | None,
        ms: int,
        attempt: int,
    ) -> None:
        """Record the transient error and a retrying event."""
        self.errors.append((workflow_id, step, ErrorClass.TRANSIENT, attempt))
        details = {"error": str(error), "retry_after": retry_after}
        self.events.append(Event(workflow_id, number, step, StepStatus.RETRYING, details, ms))

    def stopped(
        self,
        workflow_id: uuid.UUID,
        number: int,
        step: str,
        error: BaseException,
        *,
        outcome: WorkflowStatus,
        reason: str,
        error_class: ErrorClass,
        http_status: int | None,
        trace: str,
        ms: int,
        attempt: int,
    ) -> None:
        """Record the error, the failed event and the workflow's end."""
        self.errors.append((workflow_id, step, error_class, attempt))
        details = {"outcome": outcome.value, "reason": reason, "error_class": error_class.value}
        self.events.append(Event(workflow_id, number, step, StepStatus.FAILED, details, ms))
        self.ended[workflow_id] = outcome

    def skipped(self, workflow_id: uuid.UUID, number: int, step: str, reason: str) -> None:
        """Record a skipped event; the workflow ends skipped."""
        details = {"outcome": WorkflowStatus.SKIPPED.value, "reason": reason}
        self.events.append(Event(workflow_id, number, step, StepStatus.SKIPPED, details))
        self.ended[workflow_id] = WorkflowStatus.SKIPPED

    def waiting(
        self,
        workflow_id: uuid.UUID,
        number: int,
        step: str,
        reason: str,
        ms: int | None,
        *,
        not_before_seconds: float | None = None,
    ) -> None:
        """Record the waiting event; the workflow goes back to the queue."""
        if not_before_seconds is not None:
            self.not_before[workflow_id] = not_before_seconds
        details = {"outcome": WorkflowStatus.QUEUED.value, "reason": reason, "waiting": True}
        self.events.append(Event(workflow_id, number, step, StepStatus.SKIPPED, details, ms))
        self.held[workflow_id] = reason


class FakeLeadRecords:
    """Our own tables' rows for the leads, in memory."""

    def __init__(self) -> None:
        self.leads: dict[uuid.UUID, Lead] = {}
        self.drafts: dict[uuid.UUID, tuple[DraftContent, list[DriveFile]]] = {}
        self.mail: dict[uuid.UUID, MailOutcome] = {}
        self.tasks: dict[uuid.UUID, Task] = {}
        self.finished: dict[uuid.UUID, WorkflowMode | None] = {}
        self.sent: list[tuple[uuid.UUID, datetime]] = []
        # The suppression list by (tenant, kind, value), workflows' mailboxes and stops,
        # and the drafts marked not mailed.
        self.suppressions: dict[tuple[uuid.UUID, SuppressionKind, str], Suppression] = {}
        self.mailboxes: dict[uuid.UUID, str | None] = {}
        self.stopped: dict[uuid.UUID, str] = {}
        self.suppressed: dict[uuid.UUID, str | None] = {}

    def suppress(
        self,
        tenant_id: uuid.UUID,
        workflow_id: uuid.UUID,
        address: str,
        reason: SuppressionReason,
        *,
        source: str | None = None,
    ) -> str:
        """Add the address (a no-op when there); the label of what suppresses it."""
        value = normalise_address(address)
        key = (tenant_id, SuppressionKind.ADDRESS, value)
        self.suppressions.setdefault(
            key,
            Suppression(kind=SuppressionKind.ADDRESS, value=value, reason=reason, source=source),
        )
        found = self._find(tenant_id, address)
        assert found is not None
        return found.label

    def _find(self, tenant_id: uuid.UUID, address: str) -> Suppression | None:
        value = normalise_address(address)
        return self.suppressions.get(
            (tenant_id, SuppressionKind.ADDRESS, value)
        ) or self.suppressions.get((tenant_id, SuppressionKind.DOMAIN, domain_of(value)))

    def mail_block(self, tenant_id: uuid.UUID, workflow_id: uuid.UUID, address: str) -> str | None:
        """The suppression's label, else the stop reason, else None."""
        found = self._find(tenant_id, address)
        if found is not None:
            return found.label
        stopped = self.stopped.get(workflow_id)
        return f"stopped ({stopped})" if stopped else None

    def note_lead(self, workflow_id: uuid.UUID, lead: Lead) -> None:
        """Keep the lead."""
        self.leads[workflow_id] = lead

    def save_draft(
        self, workflow_id: uuid.UUID, content: DraftContent, assets: list[DriveFile]
    ) -> None:
        """Keep the draft unless it was sent."""
        if not (workflow_id in self.mail and self.mail[workflow_id].sent):
            self.drafts[workflow_id] = (content, assets)

    def previous_mail(self, workflow_id: uuid.UUID) -> PreviousMail | None:
        """What an earlier attempt left in Gmail."""
        found = self.mail.get(workflow_id)
        if found is None or not (found.draft_id or found.sent):
            return None
        return PreviousMail(
            draft_id=found.draft_id,
            message_id=found.message_id,
            thread_id=found.thread_id,
            sent=found.sent,
        )

    def record_mail(self, workflow_id: uuid.UUID, outcome: MailOutcome) -> None:
        """Keep where the mail went."""
        if outcome.sent and not (workflow_id in self.mail and self.mail[workflow_id].sent):
            self.sent.append((workflow_id, datetime.now().astimezone()))
        self.mail[workflow_id] = outcome
        self.mailboxes[workflow_id] = outcome.mailbox
        self.suppressed[workflow_id] = outcome.suppressed_reason

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
        """Keep the task."""
        self.tasks[workflow_id] = task

    def finish(self, workflow_id: uuid.UUID, mode: WorkflowMode | None) -> None:
        """The workflow succeeded."""
        self.finished[workflow_id] = mode
