"""Synthetic (canary) workflows: marking them at intake, and telling them apart later."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Workflow


def mark_synthetic(session: Session | Connection, workflow_ids: Collection[uuid.UUID]) -> None:
    """Mark these workflows as the canary's (in the transaction that accepted them)."""
    if workflow_ids:
        session.execute(
            update(Workflow).where(Workflow.id.in_(list(workflow_ids))).values(synthetic=True)
        )


def synthetic_among(session: Session, workflow_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these workflows are synthetic."""
    if not workflow_ids:
        return set()
    return set(
        session.scalars(
            select(Workflow.id).where(Workflow.id.in_(list(workflow_ids)), Workflow.synthetic)
        )
    )
