"""Initial schema: tenants, API keys, the outbox, outputs, audit trail, idempotency.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 07:35:20.083198+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "tenants",
        sa.Column("portal_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=True),
        sa.Column(
            "send_kill_switch", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "allowed_form_ids",
            postgresql.ARRAY(sa.String(length=64)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "drive_folder_ids",
            postgresql.ARRAY(sa.String(length=128)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("webhook_secret_ref", sa.String(length=255), nullable=True),
        sa.Column("daily_send_cap", sa.Integer(), server_default=sa.text("50"), nullable=False),
        sa.Column(
            "throttle_window_seconds", sa.Integer(), server_default=sa.text("86400"), nullable=False
        ),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column(
            "voice_profile",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("sender_email", sa.String(length=320), nullable=True),
        sa.Column("default_owner_id", sa.String(length=64), nullable=True),
        sa.Column("holiday_country", sa.String(length=2), nullable=True),
        sa.Column(
            "extra_holidays",
            postgresql.ARRAY(sa.Date()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
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
            "mode IS NULL OR mode IN ('DRAFT_ONLY', 'SEND')", name=op.f("ck_tenants_mode")
        ),
        sa.CheckConstraint(
            "daily_send_cap >= 0", name=op.f("ck_tenants_daily_send_cap_non_negative")
        ),
        sa.CheckConstraint(
            "throttle_window_seconds >= 0", name=op.f("ck_tenants_throttle_window_non_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("portal_id", name=op.f("uq_tenants_portal_id")),
    )
    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_api_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_tenant_id"), "api_keys", ["tenant_id"], unique=False)
    op.create_table(
        "form_submissions",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("portal_id", sa.BigInteger(), nullable=False),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("hubspot_submission_id", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=20), server_default="webhook", nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("company", sa.String(length=255), nullable=True),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("job_title", sa.String(length=255), nullable=True),
        sa.Column("industry", sa.String(length=255), nullable=True),
        sa.Column("raw_payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "source IN ('webhook', 'reconciliation', 'import')",
            name=op.f("ck_form_submissions_source"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_form_submissions_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_submissions")),
        sa.UniqueConstraint(
            "portal_id",
            "hubspot_submission_id",
            name=op.f("uq_form_submissions_portal_id_hubspot_submission_id"),
        ),
    )
    op.create_index(op.f("ix_form_submissions_email"), "form_submissions", ["email"], unique=False)
    op.create_index(
        op.f("ix_form_submissions_tenant_id"),
        "form_submissions",
        ["tenant_id", "received_at"],
        unique=False,
    )
    op.create_table(
        "workflows",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("form_submission_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="received", nullable=False),
        sa.Column("mode", sa.String(length=20), server_default="DRAFT_ONLY", nullable=False),
        sa.Column("mode_override", sa.String(length=20), nullable=True),
        sa.Column("prospect_email", sa.String(length=320), nullable=False),
        sa.Column("prospect_company", sa.String(length=255), nullable=True),
        sa.Column("email_domain", sa.String(length=255), nullable=False),
        sa.Column("dagster_run_id", sa.String(length=64), nullable=True),
        sa.Column("run_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
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
        sa.CheckConstraint("mode IN ('DRAFT_ONLY', 'SEND')", name=op.f("ck_workflows_mode")),
        sa.CheckConstraint(
            "mode_override IS NULL OR mode_override IN ('DRAFT_ONLY', 'SEND')",
            name=op.f("ck_workflows_mode_override"),
        ),
        sa.CheckConstraint(
            "status IN ('received', 'queued', 'running', 'succeeded', 'failed', 'skipped', 'rejected')",  # noqa: E501
            name=op.f("ck_workflows_status"),
        ),
        sa.CheckConstraint(
            "duration_ms IS NULL OR duration_ms >= 0",
            name=op.f("ck_workflows_duration_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["form_submission_id"],
            ["form_submissions.id"],
            name=op.f("fk_workflows_form_submission_id_form_submissions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_workflows_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("form_submission_id", name=op.f("uq_workflows_form_submission_id")),
    )
    op.create_index(
        "ix_workflows_awaiting_run",
        "workflows",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('received', 'queued') AND run_requested_at IS NULL"),
    )
    op.create_index(
        op.f("ix_workflows_email_domain"), "workflows", ["email_domain", "created_at"], unique=False
    )
    op.create_index(
        "ix_workflows_in_flight",
        "workflows",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('received', 'queued', 'running')"),
    )
    op.create_index(
        op.f("ix_workflows_status"), "workflows", ["status", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_workflows_tenant_id"), "workflows", ["tenant_id", "created_at"], unique=False
    )
    op.create_table(
        "draft_emails",
        sa.Column("workflow_id", sa.UUID(), nullable=False),
        sa.Column("to_email", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("assets_included", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "assets",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("mode", sa.String(length=20), server_default="DRAFT_ONLY", nullable=False),
        sa.Column("gmail_draft_id", sa.String(length=255), nullable=True),
        sa.Column("gmail_message_id", sa.String(length=255), nullable=True),
        sa.Column("gmail_thread_id", sa.String(length=255), nullable=True),
        sa.Column("sent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=255), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint("mode IN ('DRAFT_ONLY', 'SEND')", name=op.f("ck_draft_emails_mode")),
        sa.CheckConstraint(
            "NOT sent OR sent_at IS NOT NULL", name=op.f("ck_draft_emails_sent_has_time")
        ),
        sa.CheckConstraint(
            "assets_included >= 0", name=op.f("ck_draft_emails_assets_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_draft_emails_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_emails")),
        sa.UniqueConstraint("workflow_id", name=op.f("uq_draft_emails_workflow_id")),
    )
    op.create_table(
        "hubspot_tasks",
        sa.Column("workflow_id", sa.UUID(), nullable=False),
        sa.Column("hubspot_task_id", sa.String(length=64), nullable=True),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=True),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="NOT_STARTED", nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
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
            "status IN ('NOT_STARTED', 'IN_PROGRESS', 'WAITING', 'COMPLETED', 'DEFERRED')",
            name=op.f("ck_hubspot_tasks_status"),
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_hubspot_tasks_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hubspot_tasks")),
        sa.UniqueConstraint("workflow_id", name=op.f("uq_hubspot_tasks_workflow_id")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("workflow_id", sa.UUID(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
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
            "status IN ('pending', 'completed', 'failed')", name=op.f("ck_idempotency_keys_status")
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_idempotency_keys_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_idempotency_keys_scope_key")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_workflow_id"), "idempotency_keys", ["workflow_id"], unique=False
    )
    op.create_table(
        "workflow_errors",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workflow_id", sa.UUID(), nullable=False),
        sa.Column("step_number", sa.Integer(), nullable=True),
        sa.Column("step_name", sa.String(length=64), nullable=True),
        sa.Column("error_class", sa.String(length=20), nullable=False),
        sa.Column("error_type", sa.String(length=255), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("error_traceback", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "error_class IN ('transient', 'permanent', 'configuration')",
            name=op.f("ck_workflow_errors_error_class"),
        ),
        sa.CheckConstraint(
            "step_number IS NULL OR step_number BETWEEN 1 AND 13",
            name=op.f("ck_workflow_errors_step_number_range"),
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_errors_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_errors")),
    )
    op.create_index(
        op.f("ix_workflow_errors_workflow_id"),
        "workflow_errors",
        ["workflow_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "workflow_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workflow_id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("step_number", sa.Integer(), nullable=True),
        sa.Column("step_name", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("dagster_run_id", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('started', 'succeeded', 'failed', 'skipped', 'retrying')",
            name=op.f("ck_workflow_events_status"),
        ),
        sa.CheckConstraint(
            "duration_ms IS NULL OR duration_ms >= 0",
            name=op.f("ck_workflow_events_duration_non_negative"),
        ),
        sa.CheckConstraint(
            "step_number IS NULL OR step_number BETWEEN 1 AND 13",
            name=op.f("ck_workflow_events_step_number_range"),
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_events_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_events")),
    )
    op.create_index(
        op.f("ix_workflow_events_workflow_id"),
        "workflow_events",
        ["workflow_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_workflow_events_workflow_id"), table_name="workflow_events")
    op.drop_table("workflow_events")
    op.drop_index(op.f("ix_workflow_errors_workflow_id"), table_name="workflow_errors")
    op.drop_table("workflow_errors")
    op.drop_index(op.f("ix_idempotency_keys_workflow_id"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("hubspot_tasks")
    op.drop_table("draft_emails")
    op.drop_index(op.f("ix_workflows_tenant_id"), table_name="workflows")
    op.drop_index(op.f("ix_workflows_status"), table_name="workflows")
    op.drop_index(
        "ix_workflows_in_flight",
        table_name="workflows",
        postgresql_where=sa.text("status IN ('received', 'queued', 'running')"),
    )
    op.drop_index(op.f("ix_workflows_email_domain"), table_name="workflows")
    op.drop_index(
        "ix_workflows_awaiting_run",
        table_name="workflows",
        postgresql_where=sa.text("status IN ('received', 'queued') AND run_requested_at IS NULL"),
    )
    op.drop_table("workflows")
    op.drop_index(op.f("ix_form_submissions_tenant_id"), table_name="form_submissions")
    op.drop_index(op.f("ix_form_submissions_email"), table_name="form_submissions")
    op.drop_table("form_submissions")
    op.drop_index(op.f("ix_api_keys_tenant_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("tenants")
