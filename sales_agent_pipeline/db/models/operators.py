"""Who may act for which tenant in the Dagster UI: grants to signed-in operators."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from sales_agent_pipeline.db.base import Base, UUIDPrimaryKey


class OperatorGrant(UUIDPrimaryKey, Base):
    """One operator (an email, as the sign-in proxy passes it, or `@domain` for everyone
    signed in from that domain) allowed to act for one tenant, or for every tenant when
    tenant_id is NULL. The approval job checks them before it sends anything."""

    __tablename__ = "operator_grants"
    __table_args__ = (
        Index(
            "uq_operator_grants_subject_tenant",
            "subject",
            "tenant_id",
            unique=True,
            postgresql_where=text("tenant_id IS NOT NULL"),
        ),
        Index(
            "uq_operator_grants_subject_all_tenants",
            "subject",
            unique=True,
            postgresql_where=text("tenant_id IS NULL"),
        ),
    )

    subject: Mapped[str] = mapped_column(String(254))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    granted_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
