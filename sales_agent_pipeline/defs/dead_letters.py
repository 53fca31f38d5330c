"""The dead-letter queue in Dagster: a sensor that re-drives due dead letters, and the job
`replay_dead_letters` an operator launches from the UI.

Neither launches a run itself: both queue the workflows as the webhook's outbox does, and the
launch sensors (live leads, imports) run them through the same path as any lead.
"""

import uuid

from dagster import (
    Config,
    DefaultSensorStatus,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    SensorEvaluationContext,
    SkipReason,
    in_process_executor,
    job,
    op,
    sensor,
)
from pydantic import Field

from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.usecases.dead_letters import NotDeadLetter, UnknownWorkflows, replay
from sales_agent_pipeline.usecases.dead_letters import redrive_due as redrive
from sales_agent_pipeline.usecases.tenant_input import TenantInputError
from sales_agent_pipeline.usecases.tenants import find_tenant


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Re-drives dead letters (leads whose transient retries ran out) when their "
    "next re-drive is due (DLQ_REDRIVE_DELAYS): queued again, the launch sensor runs them. "
    "After the last delay a dead letter waits for a person (`sales-agent dlq`).",
)
def dead_letter_redrive_sensor(
    context: SensorEvaluationContext, database: DatabaseResource, settings: SettingsResource
) -> SkipReason:
    """Queue the due dead letters; the tick's reason says how many."""
    with database.session() as session:
        redriven = redrive(session, limit=settings.get().sensor_batch_size * 10)
    if redriven:
        context.log.info(f"re-drove {len(redriven)} dead letter(s)")
    return SkipReason(f"re-drove {len(redriven)} dead letter(s); the launch sensor runs them")


class ReplayConfig(Config):
    """Which dead letters to replay: the ids given, or every one (of a tenant, or of all)."""

    workflow_ids: list[str] = Field(
        default_factory=list, description="workflow ids (the lead asset's partition keys)"
    )
    replay_all: bool = Field(
        default=False, description="replay every dead letter (of portal_id, when given)"
    )
    portal_id: int | None = Field(
        default=None, description="only this tenant's (HubSpot portal id) dead letters"
    )
    requested_by: str = Field(
        min_length=1, max_length=200, description="your name: recorded on each workflow's trail"
    )


def _ids(config: ReplayConfig) -> list[uuid.UUID] | None:
    if config.replay_all == bool(config.workflow_ids):
        raise Failure(
            description="give workflow_ids, or set replay_all (not both)", allow_retries=False
        )
    if config.replay_all:
        return None
    try:
        return [uuid.UUID(value.strip()) for value in config.workflow_ids]
    except ValueError:
        raise Failure(
            description=f"workflow_ids {config.workflow_ids!r}: not all workflow ids (UUIDs)",
            allow_retries=False,
        ) from None


@op(description="Queue the chosen dead letters for a run, as `sales-agent dlq replay` does.")
def replay_chosen_dead_letters(
    context: OpExecutionContext, config: ReplayConfig, database: DatabaseResource
) -> Output[list[str]]:
    """One call to dead_letters.replay; a refusal fails the run with its reason, nothing
    changed."""
    wanted = _ids(config)
    try:
        with database.session() as session:
            tenant_id = (
                find_tenant(session, config.portal_id).id if config.portal_id is not None else None
            )
            queued = replay(
                session, wanted, tenant_id=tenant_id, actor=f"dagster ({config.requested_by})"
            )
    except (UnknownWorkflows, NotDeadLetter, TenantInputError) as exc:
        raise Failure(description=str(exc), allow_retries=False) from None
    context.log.info(f"{len(queued)} dead letter(s) queued; the launch sensor runs them")
    ids = [str(workflow_id) for workflow_id in queued]
    return Output(ids, metadata={"replayed": len(ids), "workflow_ids": MetadataValue.json(ids)})


@job(
    executor_def=in_process_executor,
    description="Replay dead letters (leads whose transient retries ran out) through the "
    "same path as any lead, never duplicating an effect: give workflow ids, or replay_all "
    "(optionally of one portal_id), and your name.",
    tags={"sales_agent/kind": "dead_letters"},
)
def replay_dead_letters() -> None:
    """One op: the replay."""
    replay_chosen_dead_letters()
