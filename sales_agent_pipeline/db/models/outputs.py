"""What a workflow produces: the Gmail draft (or sent email) and the HubSpot task."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sales_agent_pipeline.db.base import Base, Timestamps, UUIDPrimaryKey, check_in
from sales_agent_pipeline.domain.enums import TaskStatus, WorkflowMode, values


class DraftEmail(UUIDPrimaryKey, Timestamps, Base):
    """The follow-up email of one workflow; at most one per workflow."""

    __tablename__ = "draft_emails"
    __table_args__ = (
        CheckConstraint(check_in("mode", values(WorkflowMode)), name="mode"),
        CheckConstraint("assets_included >= 0", name="assets_non_negative"),
        # A reply in a thread finds the workflow whose mail is in it.
        Index("ix_draft_emails_gmail_thread_id", "gmail_thread_id"),
        CheckConstraint("NOT sent OR sent_at IS NOT NULL", name="sent_has_time"),
        CheckConstraint(
            "input_tokens >= 0 AND output_tokens >= 0 AND cached_input_tokens >= 0",
            name="tokens_non_negative",
        ),
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), unique=True
    )
    to_email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    assets_included: Mapped[int] = mapped_column(server_default=text("0"))
    assets: Mapped[list[dict[str, Any]]] = mapped_column(server_default=text("'[]'::jsonb"))
    mode: Mapped[str] = mapped_column(String(20), server_default=WorkflowMode.DRAFT_ONLY.value)
    gmail_draft_id: Mapped[str | None] = mapped_column(String(255))
    gmail_message_id: Mapped[str | None] = mapped_column(String(255))
    gmail_thread_id: Mapped[str | None] = mapped_column(String(255))
    sent: Mapped[bool] = mapped_column(server_default=text("false"))
    sent_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(255))
    approved_at: Mapped[datetime | None]
    # Set when the lead may not be mailed: the draft is kept for a person, marked with why.
    suppressed_reason: Mapped[str | None] = mapped_column(Text)
    # Who wrote it (issue 17): the writer that produced the text, the model and prompt
    # version, the language, tokens and latency, and why the template writer stood in.
    writer: Mapped[str | None] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(8))
    input_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    output_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    cached_input_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    latency_ms: Mapped[int | None]
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    # Operators' edits and regenerations: the current revision, the last editor and when.
    revision: Mapped[int] = mapped_column(server_default=text("1"))
    edited_by: Mapped[str | None] = mapped_column(String(255))
    edited_at: Mapped[datetime | None]


class DraftRevision(Base):
    """One change of a draft's text by an operator (an edit, or a regeneration): who,
    when, and the text before and after."""

    __tablename__ = "draft_revisions"
    __table_args__ = (
        CheckConstraint("kind IN ('edit', 'regenerate')", name="kind"),
        UniqueConstraint("draft_id", "revision"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    draft_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("draft_emails.id", ondelete="CASCADE"))
    revision: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(255))
    api_key_id: Mapped[uuid.UUID | None]
    old_subject: Mapped[str] = mapped_column(String(500))
    old_body: Mapped[str] = mapped_column(Text)
    new_subject: Mapped[str] = mapped_column(String(500))
    new_body: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class HubspotTask(UUIDPrimaryKey, Timestamps, Base):
    """The owner's follow-up task in HubSpot; at most one per workflow."""

    __tablename__ = "hubspot_tasks"
    __table_args__ = (CheckConstraint(check_in("status", values(TaskStatus)), name="status"),)

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), unique=True
    )
    hubspot_task_id: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[str] = mapped_column(String(64))
    company_id: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), server_default=TaskStatus.NOT_STARTED.value)
    due_date: Mapped[date]
