"""The synthetic canary: a signed synthetic lead through the webhook on a schedule.

The schedule (CANARY_CRON, on by default) starts the `canary` job when the canary may run
(usecases/canary.py decides where) and otherwise skips, saying why. The job's one op posts
the lead to the API as HubSpot would, notes the workflow on its run and ends; the lead's own
run goes like any other, and the alerts tell when it is late.
"""

from typing import Any

import httpx
from dagster import (
    DefaultScheduleStatus,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    job,
    op,
    schedule,
)

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.defs.dagster_internals import tag_run
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.settings import get_settings
from sales_agent_pipeline.usecases import canary

# The canary's runs carry the synthetic tag: the UI filters them like the lead's own run.
_TAGS = {run_tags.SYNTHETIC: "true"}
POST_TIMEOUT_SECONDS = 15.0


@op(
    description="Post one synthetic lead, signed as HubSpot signs and marked synthetic, to "
    "the API's webhook; note its workflow on this run. Does not wait for the lead."
)
def post_canary_lead(
    context: OpExecutionContext, database: DatabaseResource, settings: SettingsResource
) -> Output[str]:
    """The canary's post; fails the run when the webhook does not accept it."""
    config = settings.get()
    where = canary.target(config)
    if isinstance(where, str):
        raise Failure(description=f"the canary may not run here: {where}")
    with database.session() as session:
        lead = canary.prepare(session, config, where)
    if isinstance(lead, str):
        raise Failure(description=f"the canary cannot post: {lead}")
    try:
        with httpx.Client(timeout=POST_TIMEOUT_SECONDS) as client:
            posted = canary.post(lead, client)
    except canary.CanaryFailed as exc:
        raise Failure(description=str(exc)) from None
    workflow_id = str(posted.workflow_id)
    tag_run(
        context.instance,
        context.run_id,
        {run_tags.WORKFLOW_ID: workflow_id, run_tags.TENANT: str(posted.portal_id)},
    )
    context.log.info(f"canary lead {posted.submission_id} accepted as workflow {workflow_id}")
    return Output(
        workflow_id,
        metadata={
            "workflow_id": MetadataValue.text(workflow_id),
            "submission_id": MetadataValue.text(posted.submission_id),
            "portal_id": MetadataValue.int(posted.portal_id),
            "webhook_status": MetadataValue.text(posted.status),
        },
    )


@job(
    name="canary",
    tags=_TAGS,
    description="The synthetic canary: one signed synthetic lead through the real webhook.",
)
def canary_job() -> None:
    """Post the canary's lead."""
    post_canary_lead()


@schedule(
    name="canary_schedule",
    job=canary_job,
    # A cron has to be known when the code location loads, so this setting is read then
    # (like RECONCILIATION_CRON); whether the canary may run is decided at each tick.
    cron_schedule=get_settings().canary_cron,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Posts a synthetic lead (CANARY_CRON) in sandbox mode, or to CANARY_PORTAL_ID "
    "with CANARY_INBOX as the lead; otherwise each tick says why it skipped.",
)
def canary_schedule(
    context: ScheduleEvaluationContext, database: DatabaseResource, settings: SettingsResource
) -> RunRequest | SkipReason:
    """Start the canary's run, or say why it may not run."""
    config = settings.get()
    where = canary.target(config)
    if isinstance(where, str):
        return SkipReason(where)
    with database.session() as session:
        lead = canary.prepare(session, config, where)
    if isinstance(lead, str):
        return SkipReason(lead)
    return RunRequest(tags={**_TAGS, run_tags.TENANT: str(where.portal_id)})


JOBS: list[Any] = [canary_job]
SCHEDULES: list[Any] = [canary_schedule]
SENSORS: list[Any] = []
RESOURCES: dict[str, Any] = {}
