"""Workflows, their audit trail, drafts and tasks as the operator API shows them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sales_agent_pipeline.domain.compliance import ScheduledSendStatus
from sales_agent_pipeline.domain.enums import WorkflowMode, WorkflowStatus


class _FromRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class WorkflowSummary(_FromRow):
    """One lead's workflow in a listing."""

    id: uuid.UUID
    status: WorkflowStatus
    mode: WorkflowMode
    prospect_email: str
    prospect_company: str | None
    email_domain: str
    dagster_run_id: str | None
    attempts: int
    failure_reason: str | None
    error_class: str | None = Field(description="transient, permanent or configuration")
    redrives: int = Field(description="automatic re-drives out of the dead-letter queue")
    next_redrive_at: datetime | None = Field(
        description="a dead letter's next automatic re-drive; null: none left (a person's)"
    )
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None
    mailbox: str | None = Field(
        default=None, description="the mailbox its mail is written in (the owner's or the sender)"
    )
    suppressed_reason: str | None = Field(
        default=None, description="why it was not mailed (a suppression, a HubSpot opt-out)"
    )
    stopped_reason: str | None = Field(
        default=None,
        description="why its pending work was cancelled: replied, unsubscribed, bounced, "
        "suppressed",
    )
    stopped_at: datetime | None = None


class ScheduledSendInfo(_FromRow):
    """A SEND lead's email waiting for the recipient's business hours, or what became of it."""

    status: ScheduledSendStatus
    due_at: datetime = Field(description="when it is (or was) due to go out")
    time_zone: str = Field(description="the zone whose business hours chose due_at")
    zone_of: str = Field(description="whose zone that is: recipient or owner")
    reason: str | None = Field(description="why it was cancelled or failed")
    sent_at: datetime | None = None


class WorkflowPage(BaseModel):
    """A page of workflows, newest first; pass `next_cursor` back for the next page."""

    items: list[WorkflowSummary]
    next_cursor: str | None = Field(description="null on the last page")


class Submission(_FromRow):
    """The form submission that started the workflow."""

    id: uuid.UUID
    form_id: str
    hubspot_submission_id: str
    source: str
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    submitted_at: datetime | None
    received_at: datetime


class DraftSummary(_FromRow):
    """A follow-up email in a listing."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    to_email: str
    subject: str
    mode: WorkflowMode
    sent: bool
    sent_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    created_at: datetime
    updated_at: datetime
    suppressed_reason: str | None = Field(
        default=None, description="why it was not sent: its lead is suppressed or stopped"
    )


class Draft(DraftSummary):
    """A follow-up email in full: content, linked assets and where it is in Gmail."""

    body: str
    body_html: str | None
    assets_included: int
    assets: list[dict[str, Any]]
    gmail_draft_id: str | None
    gmail_message_id: str | None
    gmail_thread_id: str | None
    writer: str | None = Field(
        default=None, description="template, openai or anthropic: who wrote the text"
    )
    model: str | None = None
    prompt_version: str | None = None
    language: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    latency_ms: int | None = None
    fallback_reason: str | None = Field(
        default=None, description="why the template writer stood in for the model"
    )
    revision: int = Field(default=1, description="1 as written; +1 per edit or regeneration")
    edited_by: str | None = None
    edited_at: datetime | None = None
    scheduled_send: ScheduledSendInfo | None = Field(
        default=None, description="its send waiting for the window (SEND mode), if any"
    )


# Gmail keeps a subject on one header line; the column holds 500 characters.
MAX_SUBJECT_CHARS = 500
MAX_BODY_CHARS = 20_000


class DraftEdit(BaseModel):
    """A new subject and/or body (plain text; the HTML part is made from it)."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(
        default=None, min_length=1, max_length=MAX_SUBJECT_CHARS, pattern=r"^[^\r\n]*\S[^\r\n]*$"
    )
    body: str | None = Field(default=None, min_length=1, max_length=MAX_BODY_CHARS)

    @field_validator("body")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        if not value.strip():
            raise ValueError("the body is empty")
        if "\x00" in value:
            raise ValueError("the body contains a NUL character")
        return value

    @model_validator(mode="after")
    def _something(self) -> DraftEdit:
        if self.subject is None and self.body is None:
            raise ValueError("give a subject, a body, or both")
        return self


class DraftRevision(_FromRow):
    """One change of a draft by an operator: who, when, the text before and after."""

    revision: int
    kind: str = Field(description="edit or regenerate")
    actor: str
    api_key_id: uuid.UUID | None
    old_subject: str
    old_body: str
    new_subject: str
    new_body: str
    details: dict[str, Any] = Field(description="a regeneration's writer, model and tokens")
    created_at: datetime


class DraftRevisions(BaseModel):
    """A draft's changes, newest first."""

    items: list[DraftRevision]


class DraftPage(BaseModel):
    """A page of drafts, newest first; pass `next_cursor` back for the next page."""

    items: list[DraftSummary]
    next_cursor: str | None = Field(description="null on the last page")


class Task(_FromRow):
    """The owner's follow-up task in HubSpot."""

    id: uuid.UUID
    hubspot_task_id: str | None
    contact_id: str
    company_id: str | None
    owner_id: str | None
    subject: str | None
    status: str
    due_date: date


class WorkflowDetail(WorkflowSummary):
    """A workflow with its submission, draft and task."""

    submission: Submission
    draft: Draft | None
    task: Task | None
    scheduled_send: ScheduledSendInfo | None = Field(
        default=None, description="its send waiting for the window (SEND mode), if any"
    )


class Event(_FromRow):
    """One audited moment: a step's outcome, a retry, an approval."""

    id: int
    event_type: str
    step_number: int | None
    step_name: str | None
    status: str
    duration_ms: int | None
    details: dict[str, Any]
    dagster_run_id: str | None
    created_at: datetime


class StepError(_FromRow):
    """One classified failure, with the vendor's answer kept."""

    id: int
    step_number: int | None
    step_name: str | None
    error_class: str
    error_type: str
    error_message: str
    http_status: int | None
    attempt: int
    created_at: datetime


class Trail(BaseModel):
    """A workflow's audit trail in the order it was written, and its errors."""

    workflow_id: uuid.UUID
    events: list[Event]
    errors: list[StepError]


class RetryReceipt(BaseModel):
    """A retry was accepted: the workflow is queued; a run is asked for after the answer
    (if Dagster does not take it, the sensor launches it within seconds)."""

    workflow_id: uuid.UUID
    status: WorkflowStatus


class Approval(BaseModel):
    """The approved draft's state after the call (the same on a repeated approve)."""

    draft_id: uuid.UUID
    workflow_id: uuid.UUID
    sent: bool
    sent_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    gmail_message_id: str | None
    already_sent: bool = Field(description="true when an earlier call (or run) sent it")
