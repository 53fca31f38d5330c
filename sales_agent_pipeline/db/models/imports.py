"""Bulk imports of leads from a CSV file."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from sales_agent_pipeline.db.base import Base, Timestamps, UUIDPrimaryKey, check_in

IMPORT_STATUSES = ["accepted", "running", "completed", "failed"]


class LeadImport(UUIDPrimaryKey, Timestamps, Base):
    """One CSV import: its rows' report; the accepted rows are form submissions with its id."""

    __tablename__ = "lead_imports"
    __table_args__ = (
        CheckConstraint(check_in("status", IMPORT_STATUSES), name="status"),
        Index(None, "tenant_id", "created_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    filename: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), server_default="accepted")
    rows_total: Mapped[int] = mapped_column(server_default=text("0"))
    rows_accepted: Mapped[int] = mapped_column(server_default=text("0"))
    rows_rejected: Mapped[int] = mapped_column(server_default=text("0"))
    # The rejected rows: [{"row": n, "email": ..., "reason": ...}].
    rejections: Mapped[list[dict[str, Any]]] = mapped_column(server_default=text("'[]'::jsonb"))
    completed_at: Mapped[datetime | None]
