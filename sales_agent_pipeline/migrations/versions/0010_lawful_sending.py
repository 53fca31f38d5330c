"""Lawful sending: suppressions, scheduled sends, watched mailboxes and what was found in
them; a workflow's mailbox and why it was not mailed or was stopped; owner routing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 17:08:48.999957+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mailbox_cursors",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("mailbox", sa.String(length=320), nullable=False),
        sa.Column("history_id", sa.BigInteger(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("full_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("watch_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pushed_history_id", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mailbox_cursors_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "mailbox", name=op.f("pk_mailbox_cursors")),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("mailbox", sa.String(length=320), nullable=False),
        sa.Column("gmail_message_id", sa.String(length=255), nullable=False),
        sa.Column("gmail_thread_id", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("workflow_id", sa.UUID(), nullable=True),
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
        sa.CheckConstraint(
            "kind IN ('reply', 'bounce', 'unsubscribe', 'other')",
            name=op.f("ck_inbound_messages_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_inbound_messages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_inbound_messages_workflow_id_workflows"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "mailbox", "gmail_message_id", name=op.f("pk_inbound_messages")
        ),
    )
    op.create_index(
        op.f("ix_inbound_messages_workflow_id"), "inbound_messages", ["workflow_id"], unique=False
    )
    op.create_table(
        "scheduled_sends",
        sa.Column("workflow_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("mailbox", sa.String(length=320), nullable=False),
        sa.Column("to_email", sa.String(length=320), nullable=False),
        sa.Column("gmail_draft_id", sa.String(length=255), nullable=False),
        sa.Column("gmail_message_id", sa.String(length=255), nullable=True),
        sa.Column("gmail_thread_id", sa.String(length=255), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("zone_of", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="scheduled", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("dagster_run_id", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
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
            "status IN ('scheduled', 'sending', 'sent', 'cancelled', 'failed')",
            name=op.f("ck_scheduled_sends_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_scheduled_sends_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_scheduled_sends_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_scheduled_sends")),
    )
    op.create_index(
        "ix_scheduled_sends_due",
        "scheduled_sends",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.create_index(
        op.f("ix_scheduled_sends_tenant_id"),
        "scheduled_sends",
        ["tenant_id", "mailbox", "due_at"],
        unique=False,
    )
    op.create_table(
        "suppressions",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("workflow_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint("kind IN ('address', 'domain')", name=op.f("ck_suppressions_kind")),
        sa.CheckConstraint(
            "reason IN ('unsubscribe', 'bounce', 'hubspot_optout', 'manual')",
            name=op.f("ck_suppressions_reason"),
        ),
        sa.CheckConstraint("value = lower(value)", name=op.f("ck_suppressions_value_lower_case")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_suppressions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_suppressions_workflow_id_workflows"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
    )
    op.create_index(
        "uq_suppressions_tenant_kind_value",
        "suppressions",
        ["tenant_id", "kind", "value"],
        unique=True,
    )
    op.create_index("ix_workflows_tenant_prospect", "workflows", ["tenant_id", "prospect_email"])
    op.create_index("ix_draft_emails_gmail_thread_id", "draft_emails", ["gmail_thread_id"])
    op.add_column("draft_emails", sa.Column("suppressed_reason", sa.Text(), nullable=True))
    op.add_column("tenants", sa.Column("route_by_owner", sa.Boolean(), nullable=True))
    op.add_column(
        "tenants",
        sa.Column(
            "owner_hours",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column("workflows", sa.Column("mailbox", sa.String(length=320), nullable=True))
    op.add_column("workflows", sa.Column("suppressed_reason", sa.Text(), nullable=True))
    op.add_column("workflows", sa.Column("stopped_reason", sa.Text(), nullable=True))
    op.add_column("workflows", sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_index("ix_draft_emails_gmail_thread_id", table_name="draft_emails")
    op.drop_index("ix_workflows_tenant_prospect", table_name="workflows")
    op.drop_column("workflows", "stopped_at")
    op.drop_column("workflows", "stopped_reason")
    op.drop_column("workflows", "suppressed_reason")
    op.drop_column("workflows", "mailbox")
    op.drop_column("tenants", "owner_hours")
    op.drop_column("tenants", "route_by_owner")
    op.drop_column("draft_emails", "suppressed_reason")
    op.drop_index("uq_suppressions_tenant_kind_value", table_name="suppressions")
    op.drop_table("suppressions")
    op.drop_index(op.f("ix_scheduled_sends_tenant_id"), table_name="scheduled_sends")
    op.drop_index(
        "ix_scheduled_sends_due",
        table_name="scheduled_sends",
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.drop_table("scheduled_sends")
    op.drop_index(op.f("ix_inbound_messages_workflow_id"), table_name="inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_table("mailbox_cursors")
