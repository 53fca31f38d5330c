"""HubSpot form ids up to 255 characters (the seed's example form id has 73).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 04:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("form_submissions", "form_id"),
    ("form_cursors", "form_id"),
    ("reconciliation_reports", "form_id"),
)


def upgrade() -> None:
    """Widen every form id column (a wider varchar rewrites nothing in PostgreSQL)."""
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.String(255), existing_type=sa.String(64))
    op.alter_column(
        "tenants",
        "allowed_form_ids",
        type_=postgresql.ARRAY(sa.String(255)),
        existing_type=postgresql.ARRAY(sa.String(64)),
    )


def downgrade() -> None:
    """Narrow them again (fails if a longer id is stored, rather than cut one)."""
    op.alter_column(
        "tenants",
        "allowed_form_ids",
        type_=postgresql.ARRAY(sa.String(64)),
        existing_type=postgresql.ARRAY(sa.String(255)),
    )
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.String(64), existing_type=sa.String(255))
