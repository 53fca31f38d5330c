"""The audit trail: one event per step outcome, one error row per failure."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from sales_agent_pipeline.db.base import Base, check_in
from sales_agent_pipeline.domain.enums import ErrorClass, StepStatus, values

STEP_RANGE = "step_number IS NULL OR step_number BETWEEN 1 AND 13"


class WorkflowEvent(Base):
    """One audited moment of a workflow (a step's outcome, a retry, a status change)."""

    __tablename__ = "workflow_events"
    __table_args__ = (
        CheckConstraint(check_in("status", values(StepStatus)), name="status"),
        CheckConstraint(STEP_RANGE, name="step_number_range"),
        CheckConstraint("duration_ms IS NULL OR duration_ms >= 0", name="duration_non_negative"),
        Index(None, "workflow_id", "created_at"),
    )

    # An identity keeps events in insertion order even within one timestamp.
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(100))
    step_number: Mapped[int | None]
    step_name: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    duration_ms: Mapped[int | None]
    dagster_run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class WorkflowError(Base):
    """One failure, classified, with the vendor's answer kept."""

    __tablename__ = "workflow_errors"
    __table_args__ = (
        CheckConstraint(check_in("error_class", values(ErrorClass)), name="error_class"),
        CheckConstraint(STEP_RANGE, name="step_number_range"),
        Index(None, "workflow_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    step_number: Mapped[int | None]
    step_name: Mapped[str | None] = mapped_column(String(64))
    error_class: Mapped[str] = mapped_column(String(20))
    error_type: Mapped[str] = mapped_column(String(255))
    error_message: Mapped[str] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None]
    attempt: Mapped[int] = mapped_column(server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
