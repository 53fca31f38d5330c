"""Vendor quotas shared by every process: one row per quota (its mutex) and a usage log."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from sales_agent_pipeline.db.base import Base, check_in

# Live leads' calls, and a bulk import's (which may use only its share of the window).
QUOTA_LANES = ["live", "import"]


class QuotaBucket(Base):
    """One quota (e.g. one Gmail user's); callers lock its row while they check and record."""

    __tablename__ = "quota_buckets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class QuotaUsage(Base):
    """Units one call took from a quota, and when (the database's clock)."""

    __tablename__ = "quota_usage"
    __table_args__ = (
        CheckConstraint("units > 0", name="units"),
        CheckConstraint(check_in("lane", QUOTA_LANES), name="lane"),
        Index(None, "key", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    key: Mapped[str] = mapped_column(
        String(200), ForeignKey("quota_buckets.key", ondelete="CASCADE")
    )
    at: Mapped[datetime]
    units: Mapped[int]
    lane: Mapped[str] = mapped_column(String(16))
