"""Bulk imports: their leads go out in batched, low-priority runs, a few per tenant at a time."""

import uuid

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.db.repositories import imports
from sales_agent_pipeline.defs.assets import leads_partitions, process_formlead
from sales_agent_pipeline.defs.dagster_internals import count_runs, partition_range_tags
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource

IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def import_run_tags(portal_id: int, import_id: uuid.UUID, leads: int) -> dict[str, str]:
    """What an import run carries: its import, its tenant's concurrency key, low priority."""
    return {
        tags.TRIGGER: "import",
        tags.IMPORT_ID: str(import_id),
        tags.IMPORT_TENANT: str(portal_id),
        tags.TENANT: str(portal_id),
        tags.PRIORITY: tags.IMPORT_PRIORITY,
        tags.LEADS: str(leads),
    }


@sensor(
    job=process_formlead,
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches imported leads in runs of IMPORT_BATCH_SIZE, keeping at most "
    "IMPORT_RUNS_IN_FLIGHT launched per tenant (dagster.yaml runs one at a time, below live "
    "leads' priority), and closes imports whose leads have all finished.",
)
def import_runs_sensor(
    context: SensorEvaluationContext, database: DatabaseResource, settings: SettingsResource
) -> SensorResult | SkipReason:
    """Claim the next chunks of waiting imports and request their runs."""
    config = settings.get()
    with database.session() as session:
        closed = imports.close_finished(session)
        waiting = imports.waiting_imports(session)
    if closed:
        context.log.info(f"{closed} import(s) finished")
    if not waiting:
        return SkipReason("no imported lead is waiting for a run")
    in_flight: dict[int, int] = {}
    requests: list[RunRequest] = []
    new_keys: list[str] = []
    for work in waiting:
        if work.portal_id not in in_flight:
            in_flight[work.portal_id] = count_runs(
                context.instance,
                RunsFilter(tags={tags.IMPORT_TENANT: str(work.portal_id)}, statuses=IN_FLIGHT),
            )
        while in_flight[work.portal_id] < config.import_runs_in_flight:
            with database.session() as session:
                claimed = imports.claim_import_leads(
                    session, work.import_id, config.import_batch_size
                )
                if claimed:
                    imports.mark_running(session, work.import_id)
            if not claimed:
                break
            keys = [str(workflow_id) for workflow_id in claimed]
            # A re-queued lead already has its partition; it gets a run of its own so every
            # range stays contiguous in the order partitions are added.
            known = [key for key in keys if context.instance.has_dynamic_partition("leads", key)]
            fresh = [key for key in keys if key not in set(known)]
            run_tags = import_run_tags(work.portal_id, work.import_id, len(keys))
            for key in known:
                requests.append(
                    RunRequest(
                        run_key=f"import:{key}:{uuid.uuid4().hex}",
                        partition_key=key,
                        tags={**run_tags, tags.LEADS: "1", tags.WORKFLOW_ID: key},
                    )
                )
            if fresh:
                new_keys.extend(fresh)
                requests.append(
                    RunRequest(
                        run_key=f"import:{fresh[0]}:{fresh[-1]}:{uuid.uuid4().hex}",
                        tags={
                            **run_tags,
                            tags.LEADS: str(len(fresh)),
                            **partition_range_tags(fresh[0], fresh[-1]),
                        },
                    )
                )
            in_flight[work.portal_id] += 1
    if not requests:
        return SkipReason("imports are waiting for their tenant's runs in flight")
    context.log.info(f"launching {len(requests)} import run(s)")
    return SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[leads_partitions.build_add_request(new_keys)]
        if new_keys
        else [],
    )
