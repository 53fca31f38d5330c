"""Watching the sending mailboxes: replies stop a lead's workflows, bounces suppress an
address, unsubscribe mail unsubscribes (usecases/mailbox_sync.py), read by a sensor.

The sensor ticks every few seconds but is cheap unless there is work: a Gmail push not yet
read (POST /webhook/gmail records it), or MAILBOX_SYNC_SECONDS passed since its last poll.
Then it reads each mailbox due, within a time budget (a tick must end well before Dagster's
sensor timeout; what is left is read at the next tick), and with GMAIL_PUBSUB_TOPIC set
renews each mailbox's users.watch before it expires (and stops the watches once it is
unset).
"""

import time
from datetime import UTC, datetime, timedelta
from functools import partial

from dagster import (
    AssetKey,
    AssetObservation,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.vendors import GmailResource, HubSpotResource
from sales_agent_pipeline.domain.errors import PipelineError
from sales_agent_pipeline.usecases.mailbox_sync import sync_mailbox
from sales_agent_pipeline.usecases.mailboxes import (
    due_mailboxes,
    push_pending,
    stopped_since,
    sync_watches,
    watched_mailboxes,
)

# The lead asset (defs/assets.py): a stopped workflow's partition gets an observation.
LEAD_ASSET = AssetKey("lead_followup")

# The reading of one tick stops after this long (Dagster's sensor timeout is 60 s).
TICK_BUDGET_SECONDS = 40.0
# Mailboxes read in one tick at most.
MAILBOXES_PER_TICK = 50
TICK_SECONDS = 5


def _last_poll(context: SensorEvaluationContext) -> float:
    try:
        return float(context.cursor or 0)
    except ValueError:
        return 0.0


@sensor(
    minimum_interval_seconds=TICK_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Reads each sending mailbox's new Gmail mail (users.history.list from its "
    "stored history id; a full resync when the id expired): a lead's reply stops its "
    "workflows and completes its HubSpot task, a hard bounce suppresses the address and "
    "notes the contact, an unsubscribe mail unsubscribes. Polls every MAILBOX_SYNC_SECONDS, "
    "and at once after a Gmail push (GMAIL_PUBSUB_TOPIC, POST /webhook/gmail).",
)
def mailbox_sync_sensor(
    context: SensorEvaluationContext,
    database: DatabaseResource,
    settings: SettingsResource,
    gmail: GmailResource,
    hubspot: HubSpotResource,
) -> SkipReason | SensorResult:
    """Read the mailboxes due; the tick's reason says what came of it. Each workflow a
    reply or a bounce stopped is observed on its lead's partition (the UI shows why)."""
    config = settings.get()
    now = time.time()
    poll_due = now - _last_poll(context) >= config.mailbox_sync_seconds
    if not poll_due and not push_pending(database.sessions):
        return SkipReason("no Gmail push to read and the next poll is not due")
    deadline = time.monotonic() + TICK_BUDGET_SECONDS
    moment = datetime.now(UTC)
    pairs = watched_mailboxes(database.sessions, moment)
    due = due_mailboxes(
        database.sessions,
        pairs,
        moment,
        timedelta(seconds=config.mailbox_sync_seconds),
        MAILBOXES_PER_TICK,
    )
    lines: list[str] = []
    failures = 0
    for cursor in due:
        if time.monotonic() >= deadline:
            lines.append("time budget spent: the other mailboxes are read next tick")
            break
        try:
            report = sync_mailbox(
                database.sessions,
                config,
                tenant_id=cursor.tenant_id,
                mailbox=cursor.mailbox,
                mail=gmail.for_mailbox(cursor.tenant_id, cursor.mailbox),
                crm=partial(hubspot.for_tenant, cursor.tenant_id),
                deadline=deadline,
            )
        except PipelineError as exc:
            # Recorded on the cursor; one mailbox's trouble never holds up the others.
            failures += 1
            context.log.warning(f"{cursor.mailbox}: {type(exc).__name__}: {exc}")
            continue
        if report.read or report.full_sync or report.errors:
            lines.append(report.line())
        for error in report.errors:
            context.log.warning(f"{cursor.mailbox}: {error}")
    if config.gmail_pubsub_topic or poll_due:
        # Renewed before they end; stopped (at a poll) once the topic is unset.
        watches, refused = sync_watches(
            database.sessions,
            pairs=pairs,
            mail_for=gmail.for_mailbox,
            topic=config.gmail_pubsub_topic or None,
            now=datetime.now(UTC),
        )
        lines.extend(watches)
        for line in refused:
            context.log.warning(line)
    if poll_due:
        context.update_cursor(str(now))
    for line in lines:
        context.log.info(line)
    summary = f"read {len(due)} mailbox(es) of {len(pairs)} watched"
    if failures:
        summary += f", {failures} failed (see the log and mailbox_cursors.last_error)"
    stopped = stopped_since(database.sessions, moment) if due else []
    if not stopped:
        return SkipReason(summary)
    observations = [
        AssetObservation(
            asset_key=LEAD_ASSET,
            partition=str(lead.workflow_id),
            metadata={
                "stopped_reason": lead.reason,
                "stopped_at": lead.stopped_at.isoformat(),
                "stopped_by": "mailbox sync: pending sends cancelled, HubSpot task completed",
            },
            tags={run_tags.TENANT: str(lead.portal_id)},
        )
        for lead in stopped
    ]
    return SensorResult(
        skip_reason=f"{summary}; {len(stopped)} workflow(s) stopped", asset_events=observations
    )
