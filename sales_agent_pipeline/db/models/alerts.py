"""Alerts the sensors raised: one row per condition key, firing or resolved."""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from sales_agent_pipeline.db.base import Base, check_in

ALERT_STATUSES = ["firing", "resolved"]
ALERT_SEVERITIES = ["critical", "error", "warning", "info"]


class AlertState(Base):
    """One alert condition by its stable key (e.g. `breaker:hubspot:1000`): what was sent,
    when it opened, when it was last notified and when it cleared."""

    __tablename__ = "alert_states"
    __table_args__ = (
        CheckConstraint(check_in("status", ALERT_STATUSES), name="status"),
        CheckConstraint(check_in("severity", ALERT_SEVERITIES), name="severity"),
        Index("ix_alert_states_status", "status", "source"),
    )

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    opened_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    notified_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
