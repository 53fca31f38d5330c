"""Operator and scheduled work: settings audit, reconciliation cursors and reports, imports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:05:03.548236+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "form_cursors",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("last_submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_form_cursors_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "form_id", name=op.f("pk_form_cursors")),
    )
    op.create_table(
        "lead_imports",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="accepted", nullable=False),
        sa.Column("rows_total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "rejections",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
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
        sa.CheckConstraint(
            "status IN ('accepted', 'running', 'completed', 'failed')",
            name=op.f("ck_lead_imports_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_lead_imports_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_imports")),
    )
    op.create_index(
        op.f("ix_lead_imports_tenant_id"), "lead_imports", ["tenant_id", "created_at"], unique=False
    )
    op.create_table(
        "reconciliation_reports",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("dagster_run_id", sa.String(length=64), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("upstream_seen", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("via_webhook", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("recovered", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("missing", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("backlog", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reconciliation_reports_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_reports")),
    )
    op.create_index(
        op.f("ix_reconciliation_reports_tenant_id"),
        "reconciliation_reports",
        ["tenant_id", "form_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "settings_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("api_key_id", sa.UUID(), nullable=True),
        sa.Column("changed_by", sa.String(length=255), nullable=False),
        sa.Column(
            "old",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "new",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_settings_changes_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_settings_changes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settings_changes")),
    )
    op.create_index(
        op.f("ix_settings_changes_tenant_id"),
        "settings_changes",
        ["tenant_id", "changed_at"],
        unique=False,
    )
    op.add_column("form_submissions", sa.Column("import_id", sa.UUID(), nullable=True))
    op.create_index(
        op.f("ix_form_submissions_import_id"),
        "form_submissions",
        ["import_id"],
        unique=False,
        postgresql_where=sa.text("import_id IS NOT NULL"),
    )
    op.create_foreign_key(
        op.f("fk_form_submissions_import_id_lead_imports"),
        "form_submissions",
        "lead_imports",
        ["import_id"],
        ["id"],
        ondelete="RESTRICT",
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_constraint(
        op.f("fk_form_submissions_import_id_lead_imports"), "form_submissions", type_="foreignkey"
    )
    op.drop_index(
        op.f("ix_form_submissions_import_id"),
        table_name="form_submissions",
        postgresql_where=sa.text("import_id IS NOT NULL"),
    )
    op.drop_column("form_submissions", "import_id")
    op.drop_index(op.f("ix_settings_changes_tenant_id"), table_name="settings_changes")
    op.drop_table("settings_changes")
    op.drop_index(op.f("ix_reconciliation_reports_tenant_id"), table_name="reconciliation_reports")
    op.drop_table("reconciliation_reports")
    op.drop_index(op.f("ix_lead_imports_tenant_id"), table_name="lead_imports")
    op.drop_table("lead_imports")
    op.drop_table("form_cursors")
