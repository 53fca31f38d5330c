"""Promises under faults: idempotency leases, send slots, global switches, dead letters and
circuit breakers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 05:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "'received', 'queued', 'running', 'succeeded', 'failed', 'skipped', 'rejected'"
NEW_STATUSES = OLD_STATUSES + ", 'dead_letter'"


def upgrade() -> None:
    """Add the columns and tables; every new column has a default, so no row is rewritten."""
    op.add_column("idempotency_keys", sa.Column("lease_owner", sa.String(100), nullable=True))
    op.add_column(
        "idempotency_keys",
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "idempotency_keys",
        sa.Column("write_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "idempotency_keys",
        sa.Column("uncertain_since", sa.DateTime(timezone=True), nullable=True),
    )

    op.drop_constraint(op.f("ck_workflows_status"), "workflows", type_="check")
    op.create_check_constraint(
        op.f("ck_workflows_status"), "workflows", f"status IN ({NEW_STATUSES})"
    )
    op.add_column("workflows", sa.Column("error_class", sa.String(20), nullable=True))
    op.add_column(
        "workflows",
        sa.Column("redrives", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "workflows", sa.Column("next_redrive_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_workflows_redrive_due",
        "workflows",
        ["next_redrive_at"],
        postgresql_where=sa.text("status = 'dead_letter' AND next_redrive_at IS NOT NULL"),
    )

    op.create_table(
        "send_reservations",
        sa.Column("workflow_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), server_default="reserved", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('reserved', 'sent', 'released')", name=op.f("ck_send_reservations_status")
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_send_reservations_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_send_reservations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_send_reservations")),
    )
    op.create_index(
        op.f("ix_send_reservations_tenant_id"),
        "send_reservations",
        ["tenant_id", "day", "status"],
    )

    op.create_table(
        "global_switches",
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("changed_by", sa.String(255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_global_switches")),
    )

    op.create_table(
        "circuit_breakers",
        sa.Column("vendor", sa.String(20), nullable=False),
        sa.Column("tenant_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("state", sa.String(20), server_default="closed", nullable=False),
        sa.Column(
            "consecutive_failures", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("trips", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("probe_owner", sa.String(100), nullable=True),
        sa.Column("probe_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('closed', 'open', 'half_open')", name=op.f("ck_circuit_breakers_state")
        ),
        sa.CheckConstraint(
            "consecutive_failures >= 0", name=op.f("ck_circuit_breakers_failures_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_circuit_breakers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("vendor", "tenant_id", name=op.f("pk_circuit_breakers")),
    )


def downgrade() -> None:
    """Drop them again; dead letters go back to failed."""
    op.drop_table("circuit_breakers")
    op.drop_table("global_switches")
    op.drop_index(op.f("ix_send_reservations_tenant_id"), table_name="send_reservations")
    op.drop_table("send_reservations")
    op.execute("UPDATE workflows SET status = 'failed' WHERE status = 'dead_letter'")
    op.drop_index("ix_workflows_redrive_due", table_name="workflows")
    op.drop_column("workflows", "next_redrive_at")
    op.drop_column("workflows", "redrives")
    op.drop_column("workflows", "error_class")
    op.drop_constraint(op.f("ck_workflows_status"), "workflows", type_="check")
    op.create_check_constraint(
        op.f("ck_workflows_status"), "workflows", f"status IN ({OLD_STATUSES})"
    )
    for column in ("uncertain_since", "write_attempts", "lease_expires_at", "lease_owner"):
        op.drop_column("idempotency_keys", column)
