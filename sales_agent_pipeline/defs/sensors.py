"""The safety net: work the API did not get launched, and runs that died mid-way."""

from datetime import timedelta

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.db.repositories import outbox
from sales_agent_pipeline.db.repositories.synthetic import synthetic_among
from sales_agent_pipeline.defs.assets import leads_partitions, process_formlead
from sales_agent_pipeline.defs.dagster_internals import partition_range_tags
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.stuck import sweep_stuck


@sensor(
    job=process_formlead,
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches received leads that no run was asked for (Dagster was down, the "
    "API died after its 202); a backlog goes out in batched runs. Leads of a disabled tenant, "
    "of one needing HubSpot re-authorisation, or of one whose vendor's circuit breaker is "
    "open, wait: each tick names those tenants.",
)
def received_leads_sensor(
    context: SensorEvaluationContext, database: DatabaseResource, settings: SettingsResource
) -> SensorResult | SkipReason:
    """Claim awaiting workflows and request runs for them."""
    config = settings.get()
    with database.session() as session:
        awaiting = outbox.claim_awaiting(
            session,
            older_than=timedelta(seconds=config.sensor_grace_seconds),
            limit=config.sensor_batch_size * 10,
        )
        blocked = outbox.waiting_blocked(session)
        synthetic = {
            str(key) for key in synthetic_among(session, [item.workflow_id for item in awaiting])
        }
    # Tenants that cannot run now keep their work waiting: say so on every tick, so the
    # UI's sensor page tells an operator which portal to re-authorise (or enable).
    held = "; ".join(
        f"portal {w.portal_id}: {w.waiting} lead(s) wait ({w.reason})" for w in blocked
    )
    if held:
        context.log.warning(held)
    if not awaiting:
        return SkipReason(
            "no received lead is waiting for a run" + (f"; held back: {held}" if held else "")
        )
    keys = [str(item.workflow_id) for item in awaiting]
    new = [key for key in keys if not context.instance.has_dynamic_partition("leads", key)]
    known = [key for key in keys if key not in set(new)]
    # A canary's lead runs alone, tagged synthetic; its partition goes after the others'
    # (a batch's range of new partitions must not take it in).
    alone = [key for key in new if key in synthetic]
    new = [key for key in new if key not in synthetic]
    # The claim's number makes each claim's run key new: a lead that waited for its
    # tenant's re-authorisation is claimed again with the attempts it had.
    attempts = {str(item.workflow_id): f"{item.attempts}:{item.claim}" for item in awaiting}
    run_tags = {tags.TRIGGER: "sensor"}
    requests = [
        RunRequest(
            run_key=f"{key}:{attempts[key]}",
            partition_key=key,
            tags={**run_tags, tags.WORKFLOW_ID: key, **_synthetic(key in synthetic)},
        )
        for key in [*known, *alone]
    ]
    # New partitions are appended in this order, so each chunk is a contiguous range.
    size = config.sensor_batch_size
    for start in range(0, len(new), size):
        chunk = new[start : start + size]
        if len(chunk) == 1:
            requests.append(
                RunRequest(
                    run_key=f"{chunk[0]}:{attempts[chunk[0]]}",
                    partition_key=chunk[0],
                    tags={**run_tags, tags.WORKFLOW_ID: chunk[0]},
                )
            )
            continue
        requests.append(
            RunRequest(
                run_key=f"batch:{chunk[0]}:{chunk[-1]}:{attempts[chunk[0]]}",
                tags={
                    **run_tags,
                    tags.LEADS: str(len(chunk)),
                    **partition_range_tags(chunk[0], chunk[-1]),
                },
            )
        )
    context.log.info(f"launching {len(keys)} lead(s) in {len(requests)} run(s)")
    return SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[leads_partitions.build_add_request([*new, *alone])]
        if new or alone
        else [],
    )


def _synthetic(synthetic: bool) -> dict[str, str]:
    return {tags.SYNTHETIC: "true"} if synthetic else {}


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Re-queues workflows whose run ended or vanished without finishing them "
    "(a bounded number of times), then fails them with the reason.",
)
def stuck_workflows_sensor(
    context: SensorEvaluationContext, database: DatabaseResource, settings: SettingsResource
) -> SkipReason:
    """Find requested or running workflows whose Dagster run is over."""
    config = settings.get()
    with database.session() as session:
        swept = sweep_stuck(
            session,
            context.instance,
            older_than=timedelta(seconds=60),
            lost_after=timedelta(minutes=10),
            max_attempts=config.max_run_attempts,
        )
    return SkipReason(f"re-queued {swept.requeued}, failed {swept.failed}")
