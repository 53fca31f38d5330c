"""Reconciliation: how far back each form was checked, and what each run found."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from sales_agent_pipeline.db.base import Base
from sales_agent_pipeline.domain.submission import MAX_ID_LENGTH


class FormCursor(Base):
    """Per tenant and form: the newest submission time reconciliation has seen upstream."""

    __tablename__ = "form_cursors"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    form_id: Mapped[str] = mapped_column(String(MAX_ID_LENGTH), primary_key=True)
    last_submitted_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class ReconciliationReport(Base):
    """One reconciliation run's coverage for one tenant and form."""

    __tablename__ = "reconciliation_reports"
    __table_args__ = (Index(None, "tenant_id", "form_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    form_id: Mapped[str] = mapped_column(String(MAX_ID_LENGTH))
    dagster_run_id: Mapped[str | None] = mapped_column(String(64))
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    upstream_seen: Mapped[int] = mapped_column(server_default=text("0"))
    via_webhook: Mapped[int] = mapped_column(server_default=text("0"))
    recovered: Mapped[int] = mapped_column(server_default=text("0"))
    missing: Mapped[int] = mapped_column(server_default=text("0"))
    backlog: Mapped[int] = mapped_column(server_default=text("0"))
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
