"""Operator grants: which signed-in Dagster UI users may act for which tenant.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_grants",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("subject", sa.String(254), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("granted_by", sa.String(255), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_operator_grants_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_grants")),
    )
    op.create_index(
        "uq_operator_grants_subject_tenant",
        "operator_grants",
        ["subject", "tenant_id"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NOT NULL"),
    )
    op.create_index(
        "uq_operator_grants_subject_all_tenants",
        "operator_grants",
        ["subject"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("operator_grants")
