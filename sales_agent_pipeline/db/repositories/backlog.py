"""Work not finished, by where it is: what the metrics and the reconciliation report show.

A dead letter is neither waiting for a run nor running, and not finished either: it is
counted apart, those with an automatic re-drive still due and those kept for a person.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Workflow
from sales_agent_pipeline.domain.enums import WorkflowStatus

UNFINISHED = (
    WorkflowStatus.RECEIVED.value,
    WorkflowStatus.QUEUED.value,
    WorkflowStatus.RUNNING.value,
    WorkflowStatus.DEAD_LETTER.value,
)


@dataclass(frozen=True)
class Backlog:
    """Unfinished workflows: waiting for a run, running, and dead letters (a re-drive
    still due, or kept for a person)."""

    waiting: int = 0
    running: int = 0
    dead_letter_redrive_due: int = 0
    dead_letter_for_a_person: int = 0

    def by_state(self) -> dict[str, int]:
        """The counts by the label the metric gives them."""
        return {
            "waiting": self.waiting,
            "running": self.running,
            "dead_letter_redrive_due": self.dead_letter_redrive_due,
            "dead_letter_for_a_person": self.dead_letter_for_a_person,
        }


def backlog(session: Session, tenant_ids: Collection[uuid.UUID] | None = None) -> Backlog:
    """The backlog of these tenants (None: every tenant), in one query."""
    statement = (
        select(Workflow.status, Workflow.next_redrive_at.is_(None), func.count())
        .where(Workflow.status.in_(UNFINISHED))
        .group_by(Workflow.status, Workflow.next_redrive_at.is_(None))
    )
    if tenant_ids is not None:
        statement = statement.where(Workflow.tenant_id.in_(list(tenant_ids)))
    counts = {"waiting": 0, "running": 0, "redrive": 0, "person": 0}
    for status, no_redrive, count in session.execute(statement).all():
        if status == WorkflowStatus.DEAD_LETTER.value:
            counts["person" if no_redrive else "redrive"] += count
        elif status == WorkflowStatus.RUNNING.value:
            counts["running"] += count
        else:
            counts["waiting"] += count
    return Backlog(counts["waiting"], counts["running"], counts["redrive"], counts["person"])
