"""The audit of tenant settings: who changed what, when, from which value to which."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from sales_agent_pipeline.db.base import Base


class SettingsChange(Base):
    """One accepted change of a tenant's settings (only the fields that changed)."""

    __tablename__ = "settings_changes"
    __table_args__ = (Index(None, "tenant_id", "changed_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The API key that made the change (None from the CLI), and a readable name of the actor.
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    changed_by: Mapped[str] = mapped_column(String(255))
    old: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    new: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    changed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
