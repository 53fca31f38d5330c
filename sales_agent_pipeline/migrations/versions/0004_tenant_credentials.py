"""Tenants with their own credentials: encrypted secrets, status, auth kind, daily usage.

The free-form `webhook_secret_ref` goes: no secret is looked up by a name a tenant controls.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 00:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = (
    "'hubspot_token', 'hubspot_refresh_token', 'hubspot_access_token', 'webhook_secret', "
    "'google_credentials'"
)


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("tenants", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tenants", sa.Column("hubspot_auth", sa.String(length=20), nullable=True))
    op.add_column("tenants", sa.Column("auth_error", sa.Text(), nullable=True))
    op.add_column("tenants", sa.Column("auth_error_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f("ck_tenants_hubspot_auth"),
        "tenants",
        "hubspot_auth IS NULL OR hubspot_auth IN ('private_app', 'oauth')",
    )
    op.drop_column("tenants", "webhook_secret_ref")
    op.create_table(
        "tenant_secrets",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(f"kind IN ({_KINDS})", name=op.f("ck_tenant_secrets_kind")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_secrets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "kind", name=op.f("pk_tenant_secrets")),
    )
    op.create_table(
        "tenant_usage",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_usage_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "day", "metric", name=op.f("pk_tenant_usage")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("tenant_usage")
    op.drop_table("tenant_secrets")
    op.add_column("tenants", sa.Column("webhook_secret_ref", sa.String(length=255), nullable=True))
    op.drop_constraint(op.f("ck_tenants_hubspot_auth"), "tenants", type_="check")
    op.drop_column("tenants", "auth_error_at")
    op.drop_column("tenants", "auth_error")
    op.drop_column("tenants", "hubspot_auth")
    op.drop_column("tenants", "disabled_at")
