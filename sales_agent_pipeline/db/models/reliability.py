"""What keeps promises under faults: send slots of the daily cap, global switches, and the
vendors' circuit breakers, all shared by every process through PostgreSQL."""

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from sales_agent_pipeline.db.base import Base, Timestamps, check_in
from sales_agent_pipeline.domain.enums import BreakerState, ReservationStatus, values


class SendReservation(Timestamps, Base):
    """One slot of a tenant's daily send cap, taken in the send's transaction before Gmail is
    called (the tenant's row locked while the day's slots are counted), marked sent after
    it, and released when the send was refused."""

    __tablename__ = "send_reservations"
    __table_args__ = (
        CheckConstraint(check_in("status", values(ReservationStatus)), name="status"),
        Index(None, "tenant_id", "day", "status"),
    )

    # One slot per workflow, ever: a retried send reuses its own.
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The UTC day whose cap the slot counts against.
    day: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), server_default=ReservationStatus.RESERVED.value)


class GlobalSwitch(Base):
    """A switch that applies to every tenant (the send kill switch), set by CLI or admin API
    and read in every send's transaction, so flipping it stops sends in flight."""

    __tablename__ = "global_switches"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    enabled: Mapped[bool] = mapped_column(server_default=text("false"))
    changed_by: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class CircuitBreaker(Base):
    """A vendor's breaker for one tenant: after N consecutive transient failures calls stop
    until `open_until`, then one probe (half-open) decides whether they resume."""

    __tablename__ = "circuit_breakers"
    __table_args__ = (
        CheckConstraint(check_in("state", values(BreakerState)), name="state"),
        CheckConstraint("consecutive_failures >= 0", name="failures_non_negative"),
    )

    vendor: Mapped[str] = mapped_column(String(20), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(20), server_default=BreakerState.CLOSED.value)
    consecutive_failures: Mapped[int] = mapped_column(server_default=text("0"))
    # How many times it opened in a row without closing: the cool-down grows with it.
    trips: Mapped[int] = mapped_column(server_default=text("0"))
    opened_at: Mapped[datetime | None]
    open_until: Mapped[datetime | None]
    # The process holding the half-open probe, and until when.
    probe_owner: Mapped[str | None] = mapped_column(String(100))
    probe_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
