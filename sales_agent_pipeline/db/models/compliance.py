"""Lawful sending: the suppression list, scheduled sends, watched mailboxes and what
was found in them."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from sales_agent_pipeline.db.base import Base, UUIDPrimaryKey, check_in
from sales_agent_pipeline.domain.compliance import (
    InboundKind,
    ScheduledSendStatus,
    SuppressionKind,
    SuppressionReason,
)
from sales_agent_pipeline.domain.enums import values


class Suppression(UUIDPrimaryKey, Base):
    """An address or a whole domain a tenant never mails, and why."""

    __tablename__ = "suppressions"
    __table_args__ = (
        CheckConstraint(check_in("kind", values(SuppressionKind)), name="kind"),
        CheckConstraint(check_in("reason", values(SuppressionReason)), name="reason"),
        CheckConstraint("value = lower(value)", name="value_lower_case"),
        Index("uq_suppressions_tenant_kind_value", "tenant_id", "kind", "value", unique=True),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    # A lower-case address, or a lower-case domain.
    value: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(20))
    # What fed it: "one-click", "mailto", "dsn 5.1.1", "hs_email_optout", a note by hand.
    source: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(255))
    # The workflow whose mail led to it (an unsubscribe link, a bounce), when there is one.
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class ScheduledSend(Base):
    """A SEND lead's drafted email waiting for the recipient's business hours; sent once by
    the due-sends sensor's run, or cancelled (reply, unsubscribe, bounce, suppression)."""

    __tablename__ = "scheduled_sends"
    __table_args__ = (
        CheckConstraint(check_in("status", values(ScheduledSendStatus)), name="status"),
        Index(
            "ix_scheduled_sends_due",
            "due_at",
            postgresql_where=text("status = 'scheduled'"),
        ),
        Index(None, "tenant_id", "mailbox", "due_at"),
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The mailbox it is sent from (the owner's, or the tenant's sender).
    mailbox: Mapped[str] = mapped_column(String(320))
    to_email: Mapped[str] = mapped_column(String(320))
    gmail_draft_id: Mapped[str] = mapped_column(String(255))
    gmail_message_id: Mapped[str | None] = mapped_column(String(255))
    gmail_thread_id: Mapped[str | None] = mapped_column(String(255))
    due_at: Mapped[datetime]
    # The zone whose business hours chose due_at, and whose it is ("recipient", "owner").
    time_zone: Mapped[str] = mapped_column(String(64))
    zone_of: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), server_default=ScheduledSendStatus.SCHEDULED)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    dagster_run_id: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class MailboxCursor(Base):
    """Where the reading of a mailbox's Gmail history stands, and its Pub/Sub watch."""

    __tablename__ = "mailbox_cursors"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    mailbox: Mapped[str] = mapped_column(String(320), primary_key=True)
    # The last history id read (None: never read; a full sync starts it).
    history_id: Mapped[int | None] = mapped_column(BigInteger)
    synced_at: Mapped[datetime | None]
    full_sync_at: Mapped[datetime | None]
    watch_expires_at: Mapped[datetime | None]
    # A Gmail push arrived for a newer history id than was read: read soon.
    pushed_history_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class InboundMessage(Base):
    """A message found in a watched mailbox that meant something to us (a reply from a
    lead, a bounce, an unsubscribe mail), acted on once."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        CheckConstraint(check_in("kind", values(InboundKind)), name="kind"),
        Index(None, "workflow_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    mailbox: Mapped[str] = mapped_column(String(320), primary_key=True)
    gmail_message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    gmail_thread_id: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    # The lead's address it concerns (the replier, the bounced recipient).
    address: Mapped[str | None] = mapped_column(String(320))
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL")
    )
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
