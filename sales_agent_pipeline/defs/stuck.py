"""Stuck work: requested or running workflows whose Dagster run is over, gone or never came.

One sweep, used by the `stuck_workflows_sensor` (every 30 s, short thresholds) and by the
reconciliation job (hourly, its own threshold).
"""

import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dagster import DagsterInstance, DagsterRunStatus
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Workflow
from sales_agent_pipeline.db.repositories import outbox, workflows
from sales_agent_pipeline.domain.enums import WorkflowStatus

ENDED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@dataclass(frozen=True)
class Swept:
    """How many stuck workflows went back to the sensor, and how many were failed."""

    requeued: int = 0
    failed: int = 0


# Candidates looked at per sweep: live runs' workflows (an import's hundreds) are looked at
# and left, so one page of the oldest could hide a stuck one behind them.
MAX_CANDIDATES = 2000
PAGE = 200


def _candidates(session: Session, older_than: timedelta) -> Iterator[Workflow]:
    after = None
    for _ in range(MAX_CANDIDATES // PAGE):
        page = outbox.in_flight(session, older_than=older_than, limit=PAGE, after=after)
        yield from page
        if len(page) < PAGE:
            return
        after = (page[-1].updated_at, page[-1].id)


def sweep_stuck(
    session: Session,
    instance: DagsterInstance,
    *,
    older_than: timedelta,
    lost_after: timedelta,
    max_attempts: int,
    tenant_ids: Collection[uuid.UUID] | None = None,
) -> Swept:
    """Re-queue each stuck workflow, or fail it once it used its attempts.

    `tenant_ids` limits the sweep to those tenants; None sweeps every tenant.
    """
    requeued = failed = 0
    # A run the sensor asked for carries no id of ours until it claims its workflow; a
    # queue this long is not normal, so after it the launch is taken as lost.
    lost_before = datetime.now(UTC) - lost_after
    for workflow in _candidates(session, older_than):
        if tenant_ids is not None and workflow.tenant_id not in tenant_ids:
            continue
        run = instance.get_run_by_id(workflow.dagster_run_id) if workflow.dagster_run_id else None
        if run is not None and run.status not in ENDED:
            continue  # still queued or running: leave it
        if run is None and workflow.status != WorkflowStatus.RUNNING.value:
            asked = workflow.run_requested_at
            if workflow.dagster_run_id is None and asked is not None and asked < lost_before:
                # Asked for, never started (a lost launch). It counts as an attempt: that
                # bounds the re-queues, and the sensor's next run key (id:attempts) differs,
                # where the same key would be skipped by Dagster as already requested.
                if workflow.attempts + 1 >= max_attempts:
                    workflows.finish(
                        session,
                        workflow.id,
                        WorkflowStatus.FAILED,
                        reason=f"no run started after {workflow.attempts + 1} launch(es)",
                    )
                    failed += 1
                else:
                    workflow.attempts += 1
                    outbox.requeue(session, workflow, "launch was lost; re-queued")
                    requeued += 1
            continue
        where = f"run {workflow.dagster_run_id} ended ({run.status.value if run else 'gone'})"
        if workflow.attempts >= max_attempts:
            workflows.finish(
                session,
                workflow.id,
                WorkflowStatus.FAILED,
                reason=f"{where} without finishing after {workflow.attempts} attempt(s)",
            )
            failed += 1
        else:
            outbox.requeue(session, workflow, f"{where}; re-queued")
            requeued += 1
    return Swept(requeued, failed)
