"""A run takes its workflows: those it may work on become its batch, the others are told
why (a blocked tenant's wait, another run's claim)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.repositories import audit, workflows
from sales_agent_pipeline.domain.enums import StepStatus
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState


@dataclass(frozen=True)
class Claim:
    """The run's batch, the workflows that wait for their tenant, and how many it refused."""

    batch: LeadBatch
    held: dict[uuid.UUID, str] = field(default_factory=dict)
    refused: int = 0


def claim(
    sessions: sessionmaker[Session], run_id: str, ids: list[uuid.UUID], *, rerun: bool
) -> Claim:
    """Claim the run's workflows in one transaction; a re-run takes over finished ones."""
    with sessions.begin() as session:
        # A disabled tenant's work, or one whose HubSpot grant was revoked, is not claimed:
        # it goes back to wait (not an attempt) until the tenant can run again.
        blocked = workflows.blocked(session, ids)
        claimable = [workflow_id for workflow_id in ids if workflow_id not in blocked]
        claimed = set(workflows.claim(session, claimable, run_id, rerun=rerun))
        held: dict[uuid.UUID, str] = {}
        for workflow_id in ids:
            if workflow_id in claimed or not workflows.exists(session, workflow_id):
                continue
            reason = blocked.get(workflow_id)
            if reason is not None and workflows.hold(session, workflow_id, reason, run_id=run_id):
                held[workflow_id] = reason
                event, status = "waiting", StepStatus.SKIPPED
                details = {"outcome": "queued", "reason": reason, "waiting": True}
            else:
                event, status = "claim_refused", StepStatus.SKIPPED
                details = {"reason": reason or "another run holds or finished this workflow"}
            audit.record_event(
                session,
                workflow_id,
                event_type=event,
                status=status,
                run_id=run_id,
                details=details,
            )
        items = workflows.load_work_items(session, sorted(claimed))
    batch = LeadBatch(leads=tuple(LeadState(item=item) for item in items))
    return Claim(batch=batch, held=held, refused=len(ids) - len(claimed))
