"""What a workflow produces: the Gmail draft (or sent email) and the HubSpot task."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from sales_agent_pipeline.db.base import Base, Timestamps, UUIDPrimaryKey, check_in
from sales_agent_pipeline.domain.enums import TaskStatus, WorkflowMode, values


class DraftEmail(UUIDPrimaryKey, Timestamps, Base):
    """The follow-up email of one workflow; at most one per workflow."""

    __tablename__ = "draft_emails"
    __table_args__ = (
        CheckConstraint(check_in("mode", values(WorkflowMode)), name="mode"),
        CheckConstraint("assets_included >= 0", name="assets_non_negative"),
        CheckConstraint("NOT sent OR sent_at IS NOT NULL", name="sent_has_time"),
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
