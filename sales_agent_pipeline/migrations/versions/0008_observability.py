"""Observability: synthetic (canary) workflows kept apart from the real ones, and the
state of each alert the sensors raised (so a condition is sent once, and resolved once).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "workflows",
        sa.Column("synthetic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_index(
        "ix_workflows_synthetic",
        "workflows",
        ["created_at"],
        postgresql_where=sa.text("synthetic"),
    )
    op.create_table(
        "alert_states",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("link", sa.Text()),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("notified_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("status IN ('firing', 'resolved')", name=op.f("ck_alert_states_status")),
        sa.CheckConstraint(
            "severity IN ('critical', 'error', 'warning', 'info')",
            name=op.f("ck_alert_states_severity"),
        ),
    )
    op.create_index("ix_alert_states_status", "alert_states", ["status", "source"])


def downgrade() -> None:
    op.drop_index("ix_alert_states_status", table_name="alert_states")
    op.drop_table("alert_states")
    op.drop_index("ix_workflows_synthetic", table_name="workflows")
    op.drop_column("workflows", "synthetic")
