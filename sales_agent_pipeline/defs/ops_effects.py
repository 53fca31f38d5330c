"""Steps 10-13 as ops: the writes to Gmail, HubSpot and our own records."""

from datetime import UTC, datetime
from typing import Any

from dagster import AssetExecutionContext, OpExecutionContext, Output, op

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.db.repositories import outputs, workflows
from sales_agent_pipeline.defs.batched import create_tasks_once, per_tenant
from sales_agent_pipeline.defs.effects import PostgresEffects
from sales_agent_pipeline.defs.op_support import business_calendar, owner_timezone, step_runner
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.vendors import GmailResource, HubSpotResource
from sales_agent_pipeline.defs.views import (
    add_partition_metadata,
    batch_metadata,
    lead_metadata,
    step_durations,
)
from sales_agent_pipeline.domain.enums import WorkflowMode, WorkflowStatus
from sales_agent_pipeline.domain.models import NewTask
from sales_agent_pipeline.steps.create_gmail_draft import (
    ModePolicy,
    PreviousMail,
    effective_mode,
)
from sales_agent_pipeline.steps.create_gmail_draft import create_gmail_draft as draft_or_send
from sales_agent_pipeline.steps.create_hubspot_task import (
    build_task,
    task_due,
)
from sales_agent_pipeline.steps.create_hubspot_task import create_hubspot_task as make_task
from sales_agent_pipeline.steps.record_audit import label_thread
from sales_agent_pipeline.steps.write_draft import write_draft as write
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState


def _now() -> datetime:
    return datetime.now(UTC)


@op
def write_draft(
    context: OpExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    settings: SettingsResource,
) -> LeadBatch:
    """The email in the tenant's voice; stored in draft_emails before Gmail sees it."""

    def work(state: LeadState) -> dict[str, Any]:
        assert state.lead is not None
        assert state.context is not None
        assert state.plan is not None
        content = write(state.lead, state.context, state.plan, state.item.tenant.voice)
        assets = [state.plan.asset] if state.plan.asset else []
        with database.session() as session:
            outputs.save_draft_content(session, state.workflow_id, content, assets)
        return {"draft": content}

    return step_runner(context, database, settings, "write_draft", concurrent=True).run(batch, work)


@op
def create_gmail_draft(
    context: OpExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    gmail: GmailResource,
    settings: SettingsResource,
) -> LeadBatch:
    """DRAFT_ONLY drafts (in the thread when one exists); SEND sends. Once per workflow."""
    config = settings.get()

    def work(state: LeadState) -> dict[str, Any]:
        assert state.draft is not None
        assert state.context is not None
        tenant = state.item.tenant
        with database.session() as session:
            row = outputs.get_draft(session, state.workflow_id)
            previous = (
                PreviousMail(
                    row.gmail_draft_id, row.gmail_message_id, row.gmail_thread_id, row.sent
                )
                if row is not None and (row.gmail_draft_id or row.sent)
                else None
            )
            count = outputs.sent_today(session, tenant.tenant_id, _now())
        mode, reason = effective_mode(
            ModePolicy(
                global_mode=config.workflow_mode,
                global_kill_switch=config.send_kill_switch,
                tenant_mode=tenant.mode,
                tenant_kill_switch=tenant.send_kill_switch,
                override=state.item.mode_override,
                sent_today=count,
                daily_send_cap=tenant.daily_send_cap,
            )
        )
        outcome = draft_or_send(
            gmail.for_tenant(tenant.tenant_id),
            PostgresEffects(database.sessions, state.workflow_id),
            workflow_id=str(state.workflow_id),
            content=state.draft,
            context=state.context,
            mode=mode,
            mode_reason=reason,
            previous=previous,
        )
        with database.session() as session:
            outputs.record_mail(session, state.workflow_id, outcome)
        return {"mail": outcome}

    # Sends take turns: each checks the tenant's daily cap against what was sent before it.
    sending = any(
        (state.item.mode_override or state.item.tenant.mode or config.workflow_mode)
        is WorkflowMode.SEND
        for state in batch.active
    )
    runner = step_runner(
        context,
        database,
        settings,
        "create_gmail_draft",
        concurrent=not sending,
        tenants=gmail.tenants,
    )
    result = runner.run(batch, work)
    modes = {state.mail.mode.value for state in result.leads if state.mail is not None}
    if modes:
        # A batch whose leads went out in different modes is tagged "mixed".
        mode = modes.pop() if len(modes) == 1 else "mixed"
        context.instance.add_run_tags(context.run_id, {tags.MODE: mode})
    return result


@op
def create_hubspot_task(
    context: OpExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    hubspot: HubSpotResource,
    settings: SettingsResource,
) -> LeadBatch:
    """The owner's follow-up task, due in two business days, linked to contact and company."""

    def planned(state: LeadState) -> tuple[NewTask, datetime]:
        assert state.contact is not None
        assert state.draft is not None
        assert state.plan is not None
        assert state.mail is not None
        now = _now()
        due = task_due(now, owner_timezone(state), business_calendar(state, now))
        owner = state.contact.owner
        company = state.company.company if state.company else None
        new_task = build_task(
            workflow_id=str(state.workflow_id),
            draft=state.draft,
            plan=state.plan,
            draft_link=state.mail.link,
            due_at=due,
            owner_id=owner.id if owner else None,
            contact_id=state.contact.contact.id,
            company_id=company.id if company else None,
            sent=state.mail.sent,
        )
        return new_task, due

    # A batch of leads creates its tasks 100 per call first (HubSpot's batch create), each
    # under its workflow's idempotency record; the per-lead path below then finds them done.
    # Each tenant's tasks go in its own calls, into its own portal.
    for crm, states in per_tenant(batch.active, hubspot.for_tenant, context.log):
        create_tasks_once(
            database.sessions,
            crm,
            {
                state.workflow_id: planned(state)[0]
                for state in states
                if state.contact and state.draft and state.plan and state.mail
            },
            context.log,
        )

    def work(state: LeadState) -> dict[str, Any]:
        new_task, due = planned(state)
        assert state.contact is not None
        owner = state.contact.owner
        company = state.company.company if state.company else None
        effects = PostgresEffects(database.sessions, state.workflow_id)
        crm = hubspot.for_tenant(state.item.tenant.tenant_id)
        task = make_task(crm, effects, str(state.workflow_id), new_task)
        with database.session() as session:
            outputs.save_task(
                session,
                state.workflow_id,
                task,
                contact_id=state.contact.contact.id,
                company_id=company.id if company else None,
                owner_id=owner.id if owner else None,
                due_date=due.date(),
            )
        return {"task": task}

    runner = step_runner(
        context,
        database,
        settings,
        "create_hubspot_task",
        concurrent=True,
        tenants=hubspot.tenants,
    )
    return runner.run(batch, work)


@op
def record_audit(
    context: AssetExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    gmail: GmailResource,
    settings: SettingsResource,
) -> Output[LeadBatch]:
    """Label the thread and close each workflow with its status and duration."""

    def work(state: LeadState) -> dict[str, Any]:
        label_thread(gmail.for_tenant(state.item.tenant.tenant_id), state.mail)
        with database.session() as session:
            workflows.finish(
                session,
                state.workflow_id,
                WorkflowStatus.SUCCEEDED,
                mode=state.mail.mode if state.mail else None,
            )
        return {}

    runner = step_runner(
        context.op_execution_context,
        database,
        settings,
        "record_audit",
        concurrent=True,
        tenants=gmail.tenants,
    )
    result = runner.run(batch, work)
    final = LeadBatch(
        leads=tuple(
            state.model_copy(update={"outcome": WorkflowStatus.SUCCEEDED})
            if state.active
            else state
            for state in result.leads
        )
    )
    if len(final.leads) > 1:
        # A batch run's output metadata has only counts; each lead's partition also gets
        # its own draft, links and step durations, as a single-lead run shows them.
        durations = step_durations(database.sessions, [s.workflow_id for s in final.leads])
        add_partition_metadata(
            context,
            {
                str(state.workflow_id): lead_metadata(state, durations[state.workflow_id])
                for state in final.leads
            },
        )
    return Output(final, metadata=batch_metadata(final, database.sessions))
