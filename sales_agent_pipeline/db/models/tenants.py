"""Tenants (one HubSpot portal each) and their API keys."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sales_agent_pipeline.db.base import Base, Timestamps, UUIDPrimaryKey, check_in
from sales_agent_pipeline.domain.enums import HubSpotAuth, SecretKind, WorkflowMode, values
from sales_agent_pipeline.domain.submission import MAX_ID_LENGTH


class Tenant(UUIDPrimaryKey, Timestamps, Base):
    """A customer's HubSpot portal with its settings and allowlists."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(f"mode IS NULL OR {check_in('mode', values(WorkflowMode))}", name="mode"),
        CheckConstraint("daily_send_cap >= 0", name="daily_send_cap_non_negative"),
        CheckConstraint("throttle_window_seconds >= 0", name="throttle_window_non_negative"),
        CheckConstraint(
            f"hubspot_auth IS NULL OR {check_in('hubspot_auth', values(HubSpotAuth))}",
            name="hubspot_auth",
        ),
    )

    portal_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(255))
    # None: the global WORKFLOW_MODE applies.
    mode: Mapped[str | None] = mapped_column(String(20))
    send_kill_switch: Mapped[bool] = mapped_column(server_default=text("false"))
    allowed_form_ids: Mapped[list[str]] = mapped_column(
        ARRAY(String(MAX_ID_LENGTH)), server_default=text("'{}'")
    )
    drive_folder_ids: Mapped[list[str]] = mapped_column(
        ARRAY(String(128)), server_default=text("'{}'")
    )
    # Disabled: deliveries get 403 and schedules skip it; nothing is deleted.
    disabled_at: Mapped[datetime | None]
    # How its HubSpot calls authenticate (None: nothing configured yet).
    hubspot_auth: Mapped[str | None] = mapped_column(String(20))
    # Set when HubSpot refused the OAuth grant (revoked): leads wait for a re-authorisation.
    auth_error: Mapped[str | None] = mapped_column(Text)
    auth_error_at: Mapped[datetime | None]
    daily_send_cap: Mapped[int] = mapped_column(server_default=text("50"))
    throttle_window_seconds: Mapped[int] = mapped_column(server_default=text("86400"))
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    voice_profile: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    # The draft writer's settings (domain.drafting.WriterSettings); {} takes the globals.
    writer_settings: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    # Whose mailbox and calendar the Google connectors act as (domain-wide delegation).
    sender_email: Mapped[str | None] = mapped_column(String(320))
    # The task owner when HubSpot assigned none to the contact.
    default_owner_id: Mapped[str | None] = mapped_column(String(64))
    # Public holidays of this ISO country, plus extra dates, are not business days.
    holiday_country: Mapped[str | None] = mapped_column(String(2))
    extra_holidays: Mapped[list[date]] = mapped_column(ARRAY(Date), server_default=text("'{}'"))
    # Draft and send from the contact owner's mailbox (domain-wide delegation); None: the
    # global ROUTE_BY_OWNER. Owners' working hours by owner email:
    # {"time_zone": "Europe/Paris", "start": "09:00", "end": "17:30", "days": [0, 1, 2, 3, 4]}.
    route_by_owner: Mapped[bool | None]
    owner_hours: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))

    api_keys: Mapped[list["ApiKey"]] = relationship(back_populates="tenant", lazy="raise")

    def __repr__(self) -> str:
        return f"Tenant(portal_id={self.portal_id!r}, name={self.name!r})"


class TenantSecret(Base):
    """One encrypted secret of a tenant (Fernet ciphertext; the plaintext is never stored)."""

    __tablename__ = "tenant_secrets"
    __table_args__ = (CheckConstraint(check_in("kind", values(SecretKind)), name="kind"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # An OAuth access token's expiry; None for secrets that do not expire.
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    def __repr__(self) -> str:
        return f"TenantSecret(kind={self.kind!r}, <ciphertext hidden>)"


class TenantUsage(Base):
    """A tenant's counter for one day (vendor calls, quota units), added to as work runs."""

    __tablename__ = "tenant_usage"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class ApiKey(UUIDPrimaryKey, Base):
    """An API key, stored as a SHA-256 hash of a high-entropy random token.

    A fast hash is right here (unlike passwords): the token has 256 bits of entropy,
    so there is nothing to brute-force, and every API request verifies one.
    """

    __tablename__ = "api_keys"
    __table_args__ = (Index(None, "tenant_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    tenant: Mapped[Tenant] = relationship(back_populates="api_keys", lazy="raise")
