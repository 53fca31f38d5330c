"""The dead-letter queue: leads whose transient retries ran out (a vendor's outage outlasting a
run's retries) wait here with their error class and reason.

They are re-driven automatically when due (DLQ_REDRIVE_DELAYS, growing and bounded), and after
the last delay they stay for a person, who replays them (`sales-agent dlq replay`, the admin
API, the `replay_dead_letters` job) or discards them. A re-drive or a replay queues the
workflow as the webhook's outbox does, so the launch sensors run it through the same path: the
new run finds what earlier runs wrote by their idempotency records and writes nothing twice.

Every action is audited on the workflow's trail. The caller owns the transaction: a refusal
(an unknown workflow, one that is not a dead letter) raises before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from sales_agent_pipeline.db.repositories import audit
from sales_agent_pipeline.db.repositories import dead_letters as queue
from sales_agent_pipeline.domain.enums import StepStatus, WorkflowStatus


class UnknownWorkflows(Exception):
    """Some ids name no workflow (or none of the tenant's)."""

    def __init__(self, workflow_ids: Sequence[uuid.UUID]) -> None:
        super().__init__("no such workflow: " + ", ".join(str(i) for i in workflow_ids))
        self.workflow_ids = list(workflow_ids)


class NotDeadLetter(Exception):
    """A workflow is not in the dead-letter queue: nothing was changed."""

    def __init__(self, workflow_id: uuid.UUID, status: str) -> None:
        super().__init__(
            f"workflow {workflow_id} is {status}, not a dead letter: only dead letters can be "
            "replayed or discarded (nothing was changed)"
        )
        self.workflow_id = workflow_id
        self.status = status


def _dead_letters(
    session: Session, workflow_ids: Sequence[uuid.UUID] | None, tenant_id: uuid.UUID | None
) -> list[uuid.UUID]:
    """The named dead letters locked (None: every one of the tenant, or of all tenants);
    a refusal when any id is unknown or not a dead letter."""
    if workflow_ids is None:
        return queue.lock_all(session, tenant_id)
    wanted = list(dict.fromkeys(workflow_ids))
    statuses = queue.lock(session, wanted, tenant_id)
    missing = [workflow_id for workflow_id in wanted if workflow_id not in statuses]
    if missing:
        raise UnknownWorkflows(missing)
    for workflow_id in wanted:
        if statuses[workflow_id] != WorkflowStatus.DEAD_LETTER.value:
            raise NotDeadLetter(workflow_id, statuses[workflow_id])
    return wanted


def redrive_due(session: Session, *, limit: int) -> list[uuid.UUID]:
    """Queue the dead letters whose next re-drive is due (at most `limit`); their ids."""
    taken = queue.take_due(session, limit)
    for workflow_id, redrives in taken:
        audit.record_event(
            session,
            workflow_id,
            event_type="dead_letter_redriven",
            status=StepStatus.RETRYING,
            details={"redrive": redrives},
        )
    return [workflow_id for workflow_id, _ in taken]


def replay(
    session: Session,
    workflow_ids: Sequence[uuid.UUID] | None,
    *,
    tenant_id: uuid.UUID | None,
    actor: str,
) -> list[uuid.UUID]:
    """A person's replay of these dead letters (None: all of them); the ids queued.

    The automatic schedule starts again for them: should the outage outlast this replay
    too, they are re-driven as a new dead letter is."""
    ids = _dead_letters(session, workflow_ids, tenant_id)
    queued = [workflow_id for workflow_id, _ in queue.requeue(session, ids, automatic=False)]
    for workflow_id in queued:
        audit.record_event(
            session,
            workflow_id,
            event_type="dead_letter_replayed",
            status=StepStatus.RETRYING,
            details={"requested_by": actor},
        )
    return queued


def discard(
    session: Session,
    workflow_ids: Sequence[uuid.UUID],
    *,
    tenant_id: uuid.UUID | None,
    actor: str,
    reason: str,
) -> list[uuid.UUID]:
    """Fail these dead letters for good (status failed, the reason kept); the ids."""
    ids = _dead_letters(session, workflow_ids, tenant_id)
    queue.discard(session, ids, f"discarded from the dead-letter queue by {actor}: {reason}")
    for workflow_id in ids:
        audit.record_event(
            session,
            workflow_id,
            event_type="dead_letter_discarded",
            status=StepStatus.FAILED,
            details={"discarded_by": actor, "reason": reason},
        )
    return ids
