"""Scheduled sends: a sensor that launches a `send_due_mail` run per tenant with mail due,
and the job whose op claims the due rows and sends each once (usecases/scheduled_sends).

The sensor only looks; the run claims (SKIP LOCKED), so two runs never take one row. A
run key per tenant's due state (its rows' count, attempts and last change) keeps a
re-evaluated tick from launching a second run for the same state; the cursor remembers
the last state requested, and a state still due once that tenant's run is over (the run
died before claiming) gets the next generation of the key, so it is launched again.
"""

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dagster import (
    Config,
    DagsterRunStatus,
    DefaultSensorStatus,
    MetadataValue,
    OpExecutionContext,
    Output,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    TableColumn,
    TableRecord,
    TableSchema,
    in_process_executor,
    job,
    op,
    sensor,
)
from pydantic import Field
from sqlalchemy import select

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import scheduled_sends
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.vendors import GmailResource
from sales_agent_pipeline.settings import get_settings
from sales_agent_pipeline.usecases.scheduled_send_rows import DueSendResult, Outcome
from sales_agent_pipeline.usecases.scheduled_sends import STALE_SENDING, send_due

JOB_NAME = "send_due_mail"
# Every run of the job carries it: filter the UI's runs by it.
SEND_TAG = "sales_agent/send"
SEND_BATCH = "scheduled-batch"
# Sends per run at most: a backlog (after an outage) goes out over the next runs.
RUN_LIMIT = 200
IN_PROGRESS = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


class SendDueConfig(Config):
    """Whose due sends the run sends."""

    tenant_id: str = Field(description="the tenant's id (the sensor fills it in)")


_COLUMNS = TableSchema(
    columns=[
        TableColumn("workflow_id", "string"),
        TableColumn("outcome", "string"),
        TableColumn("due_at", "string"),
        TableColumn("sent_at", "string"),
        TableColumn("mailbox_domain", "string"),
        TableColumn("reason", "string"),
    ]
)


def _row(result: DueSendResult) -> TableRecord:
    return TableRecord(
        {
            "workflow_id": str(result.workflow_id),
            "outcome": result.outcome.value,
            "due_at": result.due_at.isoformat(),
            "sent_at": result.sent_at.isoformat() if result.sent_at else "",
            "mailbox_domain": result.mailbox_domain,
            "reason": result.reason or "",
        }
    )


@op(description="Claim the tenant's due scheduled sends and send each once (drafts.send).")
def send_scheduled_mail(
    context: OpExecutionContext,
    config: SendDueConfig,
    database: DatabaseResource,
    gmail: GmailResource,
    settings: SettingsResource,
) -> Output[dict[str, int]]:
    """One call to scheduled_sends.send_due for the run's tenant; each send logged."""
    try:
        tenant_id = uuid.UUID(config.tenant_id.strip())
    except ValueError:
        raise ValueError(f"tenant_id {config.tenant_id!r} is not a tenant id (a UUID)") from None

    def said(result: DueSendResult) -> None:
        line = (
            f"workflow {result.workflow_id} (due {result.due_at.isoformat()}, mailbox "
            f"@{result.mailbox_domain}): {result.outcome.value}"
        )
        context.log.info(line + (f" ({result.reason})" if result.reason else ""))

    results = send_due(
        database.sessions,
        settings.get(),
        gmail.for_mailbox,
        tenant_id=tenant_id,
        limit=RUN_LIMIT,
        owner=context.run_id,
        run_id=context.run_id,
        on_result=said,
    )
    counts = {outcome.value: 0 for outcome in Outcome}
    for result in results:
        counts[result.outcome.value] += 1
    return Output(
        counts,
        metadata={
            **{key: MetadataValue.int(value) for key, value in counts.items()},
            "sends": MetadataValue.table([_row(result) for result in results], _COLUMNS),
            "workflow_ids": MetadataValue.text(
                ", ".join(str(result.workflow_id) for result in results)
            ),
        },
    )


@job(
    name=JOB_NAME,
    executor_def=in_process_executor,
    description="Send a tenant's scheduled sends whose time has come (SEND leads that arrived "
    "outside their recipient's business hours), each exactly once; launched by "
    "due_sends_sensor.",
    tags={SEND_TAG: SEND_BATCH},
)
def send_due_mail() -> None:
    """One op: the sends."""
    send_scheduled_mail()


def _fingerprint(state: Mapping[str, object]) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _busy_portals(context: SensorEvaluationContext) -> set[str]:
    """Portals with a send_due_mail run queued or running: they wait for it."""
    runs = context.instance.get_runs(RunsFilter(job_name=JOB_NAME, statuses=IN_PROGRESS))
    return {run.tags.get(run_tags.TENANT, "") for run in runs}


def evaluate_due_sends(
    context: SensorEvaluationContext, database: DatabaseResource, settings: SettingsResource
) -> SensorResult | SkipReason:
    """Request a send_due_mail run for each tenant with sends due and no such run going."""
    now = datetime.now(UTC)
    with database.session() as session:
        due = scheduled_sends.due_state(session, now, now - STALE_SENDING)
        portals = dict(
            session.execute(
                select(Tenant.id, Tenant.portal_id).where(Tenant.id.in_(list(due)))
            ).all()
        )
    if not due:
        context.update_cursor(json.dumps({}))
        return SkipReason("no scheduled send is due")
    last: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
    busy = _busy_portals(context)
    cursor: dict[str, Any] = {}
    requests: list[RunRequest] = []
    waiting: list[str] = []
    for tenant_id, state in due.items():
        key = str(tenant_id)
        portal = str(portals.get(tenant_id, ""))
        fingerprint = _fingerprint(state)
        before = last.get(key) or {}
        if portal in busy:
            cursor[key] = before
            waiting.append(portal)
            continue
        # The same state as the last request, and no run going: that run ended without
        # sending (or never launched). A new generation lets Dagster launch it again.
        generation = before.get("generation", 0) + 1 if before.get("state") == fingerprint else 0
        cursor[key] = {"state": fingerprint, "generation": generation}
        requests.append(
            RunRequest(
                run_key=f"send:{key}:{fingerprint}:{generation}",
                run_config={"ops": {"send_scheduled_mail": {"config": {"tenant_id": key}}}},
                tags={
                    SEND_TAG: SEND_BATCH,
                    run_tags.TENANT: portal,
                    "sales_agent/due_sends": str(state["count"]),
                },
            )
        )
    context.update_cursor(json.dumps(cursor))
    if not requests:
        return SkipReason(
            "sends are due, and a send_due_mail run is going for portal(s) "
            + ", ".join(sorted(waiting))
        )
    context.log.info(
        "sends due: " + ", ".join(f"portal {portals.get(t)}: {s['count']}" for t, s in due.items())
    )
    return SensorResult(run_requests=requests)


def due_sends_sensor() -> Any:
    """The sensor, every DUE_SENDS_INTERVAL_SECONDS (read when the code location loads: a
    sensor's interval has to be known then)."""
    return sensor(
        name="due_sends_sensor",
        job=send_due_mail,
        minimum_interval_seconds=get_settings().due_sends_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Launches a send_due_mail run for each tenant whose scheduled sends' "
        "time has come (or whose sends a dead run left half-done), one run per tenant at a "
        "time; the run claims the rows, so none is sent twice.",
    )(evaluate_due_sends)


SENSORS: list[Any] = [due_sends_sensor()]
JOBS: list[Any] = [send_due_mail]
