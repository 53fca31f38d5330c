"""The audit trail: step events and classified errors."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import WorkflowError, WorkflowEvent
from sales_agent_pipeline.domain.enums import ErrorClass, StepStatus


def record_event(
    session: Session,
    workflow_id: uuid.UUID,
    *,
    event_type: str,
    status: StepStatus,
    step_number: int | None = None,
    step_name: str | None = None,
    duration_ms: int | None = None,
    details: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> None:
    """Append one event to a workflow's trail."""
    # A Core insert, not session.add(): two events per lead per step, and the ORM's flush
    # with RETURNING of the new id cost more CPU than the rest of a batch run's step.
    session.execute(
        insert(WorkflowEvent).values(
            workflow_id=workflow_id,
            event_type=event_type,
            status=status.value,
            step_number=step_number,
            step_name=step_name,
            duration_ms=duration_ms,
            details=details or {},
            dagster_run_id=run_id,
        )
    )


def record_started(
    session: Session,
    workflow_ids: list[uuid.UUID],
    *,
    step_number: int,
    step_name: str,
    run_id: str,
) -> None:
    """A started event for each lead of a step, in one statement."""
    if not workflow_ids:
        return
    session.execute(
        insert(WorkflowEvent),
        [
            {
                "workflow_id": workflow_id,
                "event_type": f"step_{StepStatus.STARTED.value}",
                "status": StepStatus.STARTED.value,
                "step_number": step_number,
                "step_name": step_name,
                "details": {},
                "dagster_run_id": run_id,
            }
            for workflow_id in workflow_ids
        ],
    )


def record_error(
    session: Session,
    workflow_id: uuid.UUID,
    *,
    error_class: ErrorClass,
    error: BaseException,
    step_number: int | None,
    step_name: str | None,
    traceback: str | None,
    http_status: int | None = None,
    attempt: int = 1,
) -> None:
    """Append one classified failure."""
    session.add(
        WorkflowError(
            workflow_id=workflow_id,
            step_number=step_number,
            step_name=step_name,
            error_class=error_class.value,
            error_type=type(error).__name__,
            error_message=str(error)[:10000],
            error_traceback=traceback,
            http_status=http_status,
            attempt=attempt,
        )
    )


FINAL_STEP_STATUSES = (
    StepStatus.SUCCEEDED.value,
    StepStatus.FAILED.value,
    StepStatus.SKIPPED.value,
)


def step_outcomes(
    session: Session, run_id: str, step_name: str, workflow_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """What this run already decided for a step, per lead: the final event's details.

    A step retry (Dagster's RetryRequested) re-runs the op with the same inputs; the leads
    it had already finished, well or badly, are taken from here instead of redone.
    """
    rows = session.execute(
        select(WorkflowEvent.workflow_id, WorkflowEvent.details)
        .where(
            WorkflowEvent.dagster_run_id == run_id,
            WorkflowEvent.step_name == step_name,
            WorkflowEvent.status.in_(FINAL_STEP_STATUSES),
            WorkflowEvent.workflow_id.in_(workflow_ids),
        )
        .order_by(WorkflowEvent.id)
    ).all()
    return {workflow_id: details for workflow_id, details in rows}  # noqa: C416 (typed pairs)


def latest_step_durations(
    session: Session, workflow_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """Milliseconds per step ("01 validate_payload") of each lead's latest run, in one query."""
    durations: dict[uuid.UUID, dict[str, int]] = {workflow_id: {} for workflow_id in workflow_ids}
    if not durations:
        return durations
    rows = session.execute(
        select(
            WorkflowEvent.workflow_id,
            WorkflowEvent.step_number,
            WorkflowEvent.step_name,
            WorkflowEvent.duration_ms,
        )
        .where(
            WorkflowEvent.workflow_id.in_(list(durations)),
            WorkflowEvent.status == StepStatus.SUCCEEDED.value,
            # Events outside the 13 steps (an approval, a retry) have no step number.
            WorkflowEvent.step_number.is_not(None),
        )
        .order_by(WorkflowEvent.id)
    ).all()
    for workflow_id, number, name, ms in rows:
        # Ordered by id: a later run's event for the same step replaces an earlier one.
        durations[workflow_id][f"{number:02d} {name}"] = ms or 0
    return durations
