"""Vendor quotas shared by every process: quota buckets (one row each) and their usage log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 20:09:49.318604+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "quota_buckets",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_quota_buckets")),
    )
    op.create_table(
        "quota_usage",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("lane", sa.String(length=16), nullable=False),
        sa.CheckConstraint("units > 0", name=op.f("ck_quota_usage_units")),
        sa.CheckConstraint("lane IN ('live', 'import')", name=op.f("ck_quota_usage_lane")),
        sa.ForeignKeyConstraint(
            ["key"],
            ["quota_buckets.key"],
            name=op.f("fk_quota_usage_key_quota_buckets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_usage")),
    )
    op.create_index(op.f("ix_quota_usage_key"), "quota_usage", ["key", "at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_quota_usage_key"), table_name="quota_usage")
    op.drop_table("quota_usage")
    op.drop_table("quota_buckets")
