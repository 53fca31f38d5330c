"""Idempotency records: written before an external write, completed after it."""

import uuid
from datetime import datetime
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

from sales_agent_pipeline.db.base import Base, Timestamps, check_in
from sales_agent_pipeline.domain.enums import IdempotencyStatus, values


class IdempotencyKey(Timestamps, Base):
    """One external effect (draft, email, task) claimed by scope and key."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        CheckConstraint(check_in("status", values(IdempotencyStatus)), name="status"),
        Index(None, "workflow_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), server_default=IdempotencyStatus.PENDING.value)
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE")
    )
    result: Mapped[dict[str, Any] | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None]
    # The lease: who may write now (a run's id, or a process's) and until when. A record
    # under another owner's live lease is a retry-later, never a second write.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    # Calls made for this record, and when its write first became uncertain (a timeout or
    # a 5xx): look-ups by marker go on until the vendor's index has surely caught up.
    write_attempts: Mapped[int] = mapped_column(server_default=text("0"))
    uncertain_since: Mapped[datetime | None]
