"""The Dagster shell of the step table: one op per row, all made by one factory.

An op builds the step's ports from the run's resources, hands the batch to the workflow's
runner, and turns its outcome into Dagster's terms: the batch for the next op, a
`RetryRequested`, or a `Failure`. The first op claims the run's leads; the last closes
them and writes the materialisation's metadata.
"""

import functools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from dagster import (
    AssetExecutionContext,
    Failure,
    In,
    MetadataValue,
    OpDefinition,
    OpExecutionContext,
    Out,
    Output,
    RetryRequested,
    op,
)
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline import tracing
from sales_agent_pipeline.db.budget import DAGSTER_RUN_POOL_OVERFLOW
from sales_agent_pipeline.db.effects import PostgresEffectStore, effect_policy
from sales_agent_pipeline.db.repositories.breakers import PostgresBreakerStore
from sales_agent_pipeline.db.repositories.history import PostgresLeadHistory
from sales_agent_pipeline.db.repositories.lead_records import PostgresLeadRecords
from sales_agent_pipeline.db.repositories.sends import PostgresSendGate, PostgresSendSchedule
from sales_agent_pipeline.db.repositories.trail import PostgresTrail
from sales_agent_pipeline.db.repositories.usage import PostgresTokenBudget
from sales_agent_pipeline.defs.dagster_internals import pool_storage_connections, tag_run
from sales_agent_pipeline.defs.resources import DatabaseResource
from sales_agent_pipeline.defs.views import (
    add_partition_metadata,
    batch_metadata,
    lead_metadata,
    step_durations,
)
from sales_agent_pipeline.domain.enums import WorkflowStatus
from sales_agent_pipeline.observability import configure_logging, log_format
from sales_agent_pipeline.secretbox import unsubscribe_tokens
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases import suppression
from sales_agent_pipeline.workflow.breaker import BreakerPolicy, CircuitBreakers
from sales_agent_pipeline.workflow.claim import claim
from sales_agent_pipeline.workflow.outcome import Done, Outcome, RetryAfter, Stopped
from sales_agent_pipeline.workflow.runner import RetryPolicy, StepRunner, waiting_outcome
from sales_agent_pipeline.workflow.services import Services
from sales_agent_pipeline.workflow.state import LeadBatch
from sales_agent_pipeline.workflow.step import Step

# The run's resources every step op may use; the vendors' by the port they serve.
VENDOR_RESOURCES = {"crm": "hubspot", "mail": "gmail", "drive": "drive", "calendar": "calendar"}
RESOURCE_KEYS = {"database", "settings", "writers", *VENDOR_RESOURCES.values()}


def _now() -> datetime:
    return datetime.now(UTC)


@functools.lru_cache(maxsize=4)
def circuit_breakers(sessions: sessionmaker[Session], policy: BreakerPolicy) -> CircuitBreakers:
    """The run process's breakers (one per run's database resource): every op of the run
    shares their in-memory copies, so a closed breaker costs no query per vendor call."""
    return CircuitBreakers(PostgresBreakerStore(sessions), policy, _now)


def services_for(context: OpExecutionContext) -> Services:
    """The ports of a step, on this run's resources; every vendor call goes through the
    tenant's circuit breaker of that vendor."""
    resources = context.resources
    database: DatabaseResource = resources.database
    sessions = database.sessions
    settings = resources.settings.get()
    breakers = circuit_breakers(sessions, BreakerPolicy.from_settings(settings))
    return Services(
        settings=settings,
        # An opt-out found in step 2 also cancels what is scheduled to that address.
        records=PostgresLeadRecords(sessions, suppress=suppression.suppress),
        # The run holds the leases of its writes: its retries take them over, another
        # run waits (WriteInProgress) until they are released or expire.
        effects=PostgresEffectStore(
            sessions, owner=context.run_id, policy=effect_policy(resources.settings.get())
        ),
        sends=PostgresSendGate(sessions, resources.settings.get()),
        crm=breakers.guard("crm", resources.hubspot.for_tenant),
        # Per (tenant, mailbox): the tenant's sender, or an owner's under delegation.
        mail=breakers.guard_mailbox("mail", resources.gmail.for_mailbox),
        drive=breakers.guard("drive", resources.drive.for_tenant),
        calendar=breakers.guard("calendar", resources.calendar.for_tenant),
        history=lambda tenant_id, workflow_id: PostgresLeadHistory(
            sessions, tenant_id, workflow_id
        ),
        now=_now,
        log=context.log,
        writer=resources.writers.for_kind,
        tokens=PostgresTokenBudget(sessions),
        delegated=resources.gmail.delegated,
        unsubscribe_token=functools.partial(_mint_unsubscribe, settings),
        schedule=PostgresSendSchedule(sessions),
    )


def _mint_unsubscribe(
    settings: Settings, tenant_id: uuid.UUID, email: str, workflow_id: uuid.UUID
) -> str:
    """A one-click unsubscribe token for the lead (ConfigurationError without a key)."""
    return unsubscribe_tokens(settings).mint(tenant_id, email, workflow_id)


def dagster_terms(outcome: Outcome) -> LeadBatch:
    """The runner's outcome as Dagster takes it: the batch, or RetryRequested or Failure."""
    if isinstance(outcome, Done):
        return outcome.batch
    if isinstance(outcome, RetryAfter):
        raise RetryRequested(
            max_retries=outcome.max_retries, seconds_to_wait=outcome.seconds
        ) from outcome.error
    assert isinstance(outcome, Stopped)
    metadata = {
        key: MetadataValue.bool(value) if isinstance(value, bool) else MetadataValue.text(value)
        for key, value in outcome.details.items()
    }
    raise Failure(
        description=outcome.description, metadata=metadata, allow_retries=outcome.retryable
    )


def observe_run_process(settings: Settings) -> None:
    """The run worker's log lines as LOG_FORMAT says (JSON in production), and its traces
    when an OTLP endpoint is set. The first op of a process does it; a process whose logging
    is already set up (a test, a CLI command executing a job) keeps its own."""
    if not structlog.is_configured():
        configure_logging(settings.log_level, log_format(settings))
    tracing.configure_tracing(settings, f"{settings.otel_service_name}-run")


def step_output(step: Step, batch: LeadBatch) -> Output[LeadBatch]:
    """The op's output: the batch, with the step's metadata when it has some."""
    return Output(batch, metadata=step.metadata(batch) if step.metadata else None)


def run_step(context: OpExecutionContext, step: Step, batch: LeadBatch) -> LeadBatch:
    """One row of the table over the batch, with the audit trail and the retry policy.

    Our log lines meanwhile carry the run id, and the workflow id of a one-lead run (the
    runner binds each lead's own)."""
    services = services_for(context)
    config = services.settings
    observe_run_process(config)
    run_tags = context.run.tags
    bound = {"run_id": context.run_id}
    if tags.WORKFLOW_ID in run_tags:
        bound["workflow_id"] = run_tags[tags.WORKFLOW_ID]
    with structlog.contextvars.bound_contextvars(**bound):
        outcome = _run_step(context, step, batch, services)
    result = dagster_terms(outcome)
    learnt = step.tags(result) if step.tags else {}
    if learnt:
        tag_run(context.instance, context.run_id, learnt)
    return result


def _run_step(
    context: OpExecutionContext, step: Step, batch: LeadBatch, services: Services
) -> Outcome:
    config = services.settings
    database: DatabaseResource = context.resources.database
    runner = StepRunner(
        PostgresTrail(database.sessions, context.run_id, redrive_delays=config.dlq_redrive_delays),
        context.log,
        attempt=context.retry_number,
        policy=RetryPolicy(config.step_max_retries, config.step_retry_base_seconds),
        concurrency=config.step_concurrency,
        # The run's tags carry the trace of the request that launched it (if traced).
        trace=tracing.run_trace(context.run_id, context.run.tags.get(tags.TRACEPARENT)),
    )
    try:
        return runner.run(step, batch, services)
    finally:
        # What the step's vendor calls counted goes into each tenant's usage: once per op.
        flushed: set[int] = set()
        for port in sorted(step.vendors):
            counters = getattr(context.resources, VENDOR_RESOURCES[port]).tenants
            if id(counters) not in flushed:
                flushed.add(id(counters))
                counters.flush_usage()
        # A run worker may end without exit handlers (a forkserver's child): each op's
        # spans leave before the next op. Nothing to do when tracing is off.
        tracing.flush()


def pool_dagster_connections(context: OpExecutionContext) -> None:
    """Let this run's Dagster storage keep its PostgreSQL connections open.

    In a run worker dagster-postgres opens a new connection (a new server process) for
    every event it stores or reads: a batch run stores hundreds (each op's events, each
    lead's materialisation), and they cost more than the leads' own work. The webserver's
    pooled set-up keeps a few open (within db/budget.py's share); no statement timeout.
    """
    pool_storage_connections(
        context.instance,
        statement_timeout=0,
        pool_recycle=3600,
        max_overflow=DAGSTER_RUN_POOL_OVERFLOW,
    )


def claim_batch(context: OpExecutionContext, step: Step) -> LeadBatch:
    """Claim the run's workflows (its partitions): the leads it carries."""
    ids = [uuid.UUID(key) for key in context.partition_keys]
    # A re-execution from the UI copies its parent's tags, the live trigger included, but
    # it is an operator's re-run: it must take over the failed (or finished) workflow.
    rerun = (
        context.run.tags.get(tags.TRIGGER) not in tags.LIVE_TRIGGERS
        or context.run.parent_run_id is not None
    )
    database: DatabaseResource = context.resources.database
    claimed = claim(database.sessions, context.run_id, ids, rerun=rerun)
    if claimed.refused:
        context.log.info(f"{claimed.refused} workflow(s) not claimed: nothing to do")
    if claimed.held and not claimed.batch.leads:
        dagster_terms(waiting_outcome(step.name, claimed.held))
    return claimed.batch


def close_batch(context: AssetExecutionContext, batch: LeadBatch) -> Output[LeadBatch]:
    """The run's leads that went through every step succeeded; the metadata operators see
    (a batch run's has counts, and each lead's partition gets its own)."""
    final = LeadBatch(
        leads=tuple(
            state.model_copy(update={"outcome": WorkflowStatus.SUCCEEDED})
            if state.active
            else state
            for state in batch.leads
        )
    )
    database: DatabaseResource = context.resources.database
    if len(final.leads) > 1:
        durations = step_durations(database.sessions, [s.workflow_id for s in final.leads])
        add_partition_metadata(
            context,
            {
                str(state.workflow_id): lead_metadata(state, durations[state.workflow_id])
                for state in final.leads
            },
        )
    return Output(final, metadata=batch_metadata(final, database.sessions))


def step_op(step: Step, *, first: bool = False, last: bool = False) -> OpDefinition:
    """The op of one row: the first takes no input (it claims the run's leads), the last
    gives the asset's output with its metadata."""
    common: dict[str, Any] = {
        "name": step.name,
        "description": step.description,
        "required_resource_keys": RESOURCE_KEYS,
    }
    if first:

        @op(**common, out=Out(LeadBatch))
        def first_op(context: OpExecutionContext) -> LeadBatch:
            pool_dagster_connections(context)
            return run_step(context, step, claim_batch(context, step))

        return first_op
    if last:

        @op(**common, ins={"batch": In(LeadBatch)}, out=Out(LeadBatch))
        def last_op(context: AssetExecutionContext, batch: LeadBatch) -> Output[LeadBatch]:
            return close_batch(context, run_step(context.op_execution_context, step, batch))

        return last_op

    @op(**common, ins={"batch": In(LeadBatch)}, out=Out(LeadBatch))
    def step_in_between(context: OpExecutionContext, batch: LeadBatch) -> Output[LeadBatch]:
        return step_output(step, run_step(context, step, batch))

    return step_in_between


def step_ops(table: Sequence[Step]) -> list[OpDefinition]:
    """The table's ops, in order."""
    last = len(table) - 1
    return [step_op(step, first=i == 0, last=i == last) for i, step in enumerate(table)]
