"""What every step op shares: its audit and retry wrapper, the run's claim of its leads,
the Dagster storage's pooled connections, and the owner's zone and business days."""

import uuid
from datetime import datetime

from dagster import OpExecutionContext

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.db.models import Workflow
from sales_agent_pipeline.db.repositories import audit, workflows
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.runner import StepRunner, raise_waiting
from sales_agent_pipeline.defs.tenants import TenantsResource
from sales_agent_pipeline.domain.enums import StepStatus
from sales_agent_pipeline.steps.business_days import BusinessCalendar
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState

# The run's lead threads log through Dagster too: room for each beside the main thread.
DAGSTER_POOL_OVERFLOW = 8


def step_runner(
    context: OpExecutionContext,
    database: DatabaseResource,
    settings: SettingsResource,
    name: str,
    *,
    concurrent: bool = False,
    tenants: TenantsResource | None = None,
) -> StepRunner:
    """The audit and retry wrapper of one step, with the configured retry policy.

    `concurrent` steps take STEP_CONCURRENCY leads at once: steps whose leads share nothing
    they could race for, or that group those that do. A step calling the vendors passes
    `tenants`: what its calls counted goes into each tenant's usage when it ends.
    """
    config = settings.get()
    return StepRunner(
        context,
        database.sessions,
        name,
        max_retries=config.step_max_retries,
        retry_base_seconds=config.step_retry_base_seconds,
        concurrency=config.step_concurrency if concurrent else 1,
        on_done=tenants.flush_usage if tenants is not None else None,
    )


def pool_dagster_connections(context: OpExecutionContext) -> None:
    """Let this run's Dagster storage keep its PostgreSQL connections open.

    In a run worker dagster-postgres opens a new connection (a new server process) for
    every event it stores or reads: a batch run stores hundreds (each op's events, each
    lead's materialisation), and they cost more than the leads' own work. The webserver's
    pooled set-up (public on the instance) keeps a few open; no statement timeout.
    """
    context.instance.optimize_for_webserver(
        statement_timeout=0, pool_recycle=3600, max_overflow=DAGSTER_POOL_OVERFLOW
    )


def claim_batch(context: OpExecutionContext, database: DatabaseResource) -> LeadBatch:
    """Claim the run's workflows: the leads it carries; a blocked tenant's wait."""
    ids = [uuid.UUID(key) for key in context.partition_keys]
    # A re-execution from the UI copies its parent's tags, the live trigger included, but
    # it is an operator's re-run: it must take over the failed (or finished) workflow.
    rerun = (
        context.run.tags.get(tags.TRIGGER) not in tags.LIVE_TRIGGERS
        or context.run.parent_run_id is not None
    )
    with database.session() as session:
        # A disabled tenant's work, or one whose HubSpot grant was revoked, is not claimed:
        # it goes back to wait (not an attempt) until the tenant can run again.
        blocked = workflows.blocked(session, ids)
        claimable = [workflow_id for workflow_id in ids if workflow_id not in blocked]
        claimed = set(workflows.claim(session, claimable, context.run_id, rerun=rerun))
        held: dict[uuid.UUID, str] = {}
        for workflow_id in ids:
            if workflow_id in claimed or session.get(Workflow, workflow_id) is None:
                continue
            reason = blocked.get(workflow_id)
            if reason is not None and workflows.hold(
                session, workflow_id, reason, run_id=context.run_id
            ):
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
                run_id=context.run_id,
                details=details,
            )
        items = workflows.load_work_items(session, sorted(claimed))
    if len(ids) - len(claimed):
        context.log.info(f"{len(ids) - len(claimed)} workflow(s) not claimed: nothing to do")
    if held and not claimed:
        raise_waiting("validate_payload", held)
    return LeadBatch(leads=tuple(LeadState(item=item) for item in items))


def owner_timezone(state: LeadState) -> str:
    """The owner's zone when HubSpot knows it, else the tenant's."""
    owner = state.contact.owner if state.contact else None
    return (owner.time_zone if owner else None) or state.item.tenant.timezone


def business_calendar(state: LeadState, now: datetime) -> BusinessCalendar:
    """The tenant's holidays this year and next."""
    tenant = state.item.tenant
    return BusinessCalendar.for_country(
        tenant.holiday_country, years=(now.year, now.year + 1), extra=tenant.extra_holidays
    )
