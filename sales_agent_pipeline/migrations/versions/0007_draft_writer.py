"""The draft writer: each draft's provenance (writer, model, prompt version, language,
tokens, latency, why the template stood in), operators' edits and regenerations with who
and when, and the tenant's writer settings.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DRAFT_COLUMNS = (
    sa.Column("writer", sa.String(20)),
    sa.Column("model", sa.String(200)),
    sa.Column("prompt_version", sa.String(40)),
    sa.Column("language", sa.String(8)),
    sa.Column("input_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False),
    sa.Column("output_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False),
    sa.Column("cached_input_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False),
    sa.Column("latency_ms", sa.Integer()),
    sa.Column("fallback_reason", sa.Text()),
    sa.Column("revision", sa.Integer(), server_default=sa.text("1"), nullable=False),
    sa.Column("edited_by", sa.String(255)),
    sa.Column("edited_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Add the provenance and edit columns, the revisions table, the writer settings."""
    for column in DRAFT_COLUMNS:
        op.add_column("draft_emails", column)
    op.create_check_constraint(
        op.f("ck_draft_emails_tokens_non_negative"),
        "draft_emails",
        "input_tokens >= 0 AND output_tokens >= 0 AND cached_input_tokens >= 0",
    )
    op.add_column(
        "tenants",
        sa.Column(
            "writer_settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.create_table(
        "draft_revisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("draft_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("old_subject", sa.String(500), nullable=False),
        sa.Column("old_body", sa.Text(), nullable=False),
        sa.Column("new_subject", sa.String(500), nullable=False),
        sa.Column("new_body", sa.Text(), nullable=False),
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
        sa.CheckConstraint("kind IN ('edit', 'regenerate')", name=op.f("ck_draft_revisions_kind")),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["draft_emails.id"],
            name=op.f("fk_draft_revisions_draft_id_draft_emails"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_revisions")),
        sa.UniqueConstraint(
            "draft_id", "revision", name=op.f("uq_draft_revisions_draft_id_revision")
        ),
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("draft_revisions")
    op.drop_column("tenants", "writer_settings")
    op.drop_constraint(op.f("ck_draft_emails_tokens_non_negative"), "draft_emails", type_="check")
    for column in reversed(DRAFT_COLUMNS):
        op.drop_column("draft_emails", column.name)
