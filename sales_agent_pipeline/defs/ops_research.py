"""Steps 1-9 as ops: thin calls into `steps/`, each wrapped by the StepRunner's audit."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import OpExecutionContext, op
from sqlalchemy import select, update

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.db.models import FormSubmission, Workflow
from sales_agent_pipeline.db.repositories.history import PostgresLeadHistory
from sales_agent_pipeline.defs.batched import per_tenant, search_companies, upsert_contacts
from sales_agent_pipeline.defs.effects import PostgresEffects
from sales_agent_pipeline.defs.op_support import (
    business_calendar,
    claim_batch,
    owner_timezone,
    pool_dagster_connections,
    step_runner,
)
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.vendors import (
    CalendarResource,
    DriveResource,
    GmailResource,
    HubSpotResource,
)
from sales_agent_pipeline.domain.enums import SubmissionSource
from sales_agent_pipeline.domain.workflow import ContactResult
from sales_agent_pipeline.steps.find_similar_patterns import find_similar_patterns as similar
from sales_agent_pipeline.steps.hunt_drive_assets import hunt_drive_assets as hunt
from sales_agent_pipeline.steps.plan_next_step import plan_next_step as plan
from sales_agent_pipeline.steps.propose_meeting_slots import propose_meeting_slots as slots
from sales_agent_pipeline.steps.read_thread_context import read_thread_context as read_thread
from sales_agent_pipeline.steps.resolve_company import KnownCompanies, company_keys
from sales_agent_pipeline.steps.resolve_company import resolve_company as company
from sales_agent_pipeline.steps.resolve_contact import resolve_contact as contact
from sales_agent_pipeline.steps.search_gmail_threads import search_gmail_threads as search
from sales_agent_pipeline.steps.validate_payload import validate_payload as validate
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState


def _now() -> datetime:
    return datetime.now(UTC)


@op
def validate_payload(
    context: OpExecutionContext, database: DatabaseResource, settings: SettingsResource
) -> LeadBatch:
    """Claim the run's workflows, then normalise each submission into a lead."""
    pool_dagster_connections(context)
    batch = claim_batch(context, database)

    def work(state: LeadState) -> dict[str, Any]:
        item = state.item
        # An imported row comes from no form: the form allowlist does not apply to it. A
        # form belongs to one portal: only the tenant's own allowlist applies (the global
        # ALLOWED_FORM_IDS only seeds the single-portal tenant's row).
        imported = item.source is SubmissionSource.IMPORT
        outcome = validate(
            item.payload,
            allowed_form_ids=() if imported else item.tenant.allowed_form_ids,
            form_id=item.form_id,
            portal_id=item.tenant.portal_id,
            submission_id=item.hubspot_submission_id,
            submitted_at=item.submitted_at,
            previous_submission_at=item.previous_submission_at,
            throttle_window=timedelta(seconds=item.tenant.throttle_window_seconds),
            now=_now(),
        )
        lead = outcome.lead
        with database.session() as session:
            submission_id = (
                select(Workflow.form_submission_id)
                .where(Workflow.id == item.workflow_id)
                .scalar_subquery()
            )
            session.execute(
                update(FormSubmission)
                .where(FormSubmission.id == submission_id)
                .values(industry=lead.industry, job_title=lead.job_title)
            )
        return {"lead": lead, "skip_reason": outcome.skip_reason}

    result = step_runner(context, database, settings, "validate_payload", concurrent=True).run(
        batch, work
    )
    run_tags = lead_tags(result)
    if run_tags:
        context.instance.add_run_tags(context.run_id, run_tags)
    return result


def lead_tags(batch: LeadBatch) -> dict[str, str]:
    """The tags operators filter runs by: a batch gets those all its leads share."""
    run_tags: dict[str, str] = {}
    tenants = {str(state.item.tenant.portal_id) for state in batch.leads}
    if len(tenants) == 1:
        run_tags[tags.TENANT] = tenants.pop()
    if len(batch.leads) == 1:
        state = batch.leads[0]
        run_tags[tags.WORKFLOW_ID] = str(state.workflow_id)
        if state.lead is not None:
            run_tags[tags.EMAIL_DOMAIN] = state.lead.email_domain
    return run_tags


@op
def resolve_contact(
    context: OpExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    hubspot: HubSpotResource,
    settings: SettingsResource,
) -> LeadBatch:
    """Upsert the contact by email and find its owner (the tenant's default otherwise)."""
    # A batch of leads upserts its contacts 100 per call first (HubSpot's batch upsert),
    # each tenant's in its own calls with its own token.
    batched: dict[uuid.UUID, ContactResult] = {}
    for crm, states in per_tenant(batch.active, hubspot.for_tenant, context.log):
        batched |= upsert_contacts(
            crm,
            {state.workflow_id: state.lead for state in states if state.lead is not None},
            context.log,
        )

    def work(state: LeadState) -> dict[str, Any]:
        assert state.lead is not None
        crm = hubspot.for_tenant(state.item.tenant.tenant_id)
        result = batched.get(state.workflow_id) or contact(crm, state.lead)
        default_owner = state.item.tenant.default_owner_id
        if result.owner is None and default_owner:
            result = result.model_copy(update={"owner": crm.get_owner(default_owner)})
        return {"contact": result}

    runner = step_runner(
        context, database, settings, "resolve_contact", concurrent=True, tenants=hubspot.tenants
    )
    return runner.run(batch, work)


@op
def resolve_company(
    context: OpExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    hubspot: HubSpotResource,
    settings: SettingsResource,
) -> LeadBatch:
    """Find or create the company and associate the contact."""
    # A batch of leads searches its companies 100 domains (or names) per search first,
    # each tenant's in its own portal.
    known: dict[uuid.UUID, KnownCompanies] = {}
    for crm, states in per_tenant(batch.active, hubspot.for_tenant, context.log):
        leads = [state.lead for state in states if state.lead is not None]
        known[states[0].item.tenant.tenant_id] = search_companies(crm, leads, context.log)

    def work(state: LeadState) -> dict[str, Any]:
        assert state.lead is not None
        assert state.contact is not None
        tenant_id = state.item.tenant.tenant_id
        effects = PostgresEffects(database.sessions, state.workflow_id)
        found = company(
            hubspot.for_tenant(tenant_id),
            effects,
            state.lead,
            state.contact.contact.id,
            known.get(tenant_id, {}),
        )
        return {"company": found}

    # Leads of one company take turns (the first may create it; the others then find the
    # creation's idempotency record); different companies go at once.
    runner = step_runner(
        context, database, settings, "resolve_company", concurrent=True, tenants=hubspot.tenants
    )
    return runner.run(batch, work, group=company_group)


def company_group(state: LeadState) -> object:
    """What a lead's company is found or created by: its tenant, and its domain or name."""
    if state.lead is None:
        return state.workflow_id
    domain, name = company_keys(state.lead)
    key = (domain or name or str(state.workflow_id)).strip().lower()
    return (state.item.tenant.tenant_id, key)


@op
def search_gmail_threads(
    context: OpExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    gmail: GmailResource,
    settings: SettingsResource,
) -> LeadBatch:
    """Threads from or to the prospect."""

    def work(state: LeadState) -> dict[str, Any]:
        assert state.lead is not None
        mail = gmail.for_tenant(state.item.tenant.tenant_id)
        return {"threads": tuple(search(mail, state.lead))}

    runner = step_runner(
        context, database, settings, "search_gmail_threads", concurrent=True, tenants=gmail.tenants
    )
    return runner.run(batch, work)


@op
def read_thread_context(
    context: OpExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    gmail: GmailResource,
    settings: SettingsResource,
) -> LeadBatch:
    """The latest thread's last message and who wrote it."""

    def work(state: LeadState) -> dict[str, Any]:
        assert state.lead is not None
        mail = gmail.for_tenant(state.item.tenant.tenant_id)
        return {"context": read_thread(mail, state.threads, state.lead)}

    runner = step_runner(
        context, database, settings, "read_thread_context", concurrent=True, tenants=gmail.tenants
    )
    return runner.run(batch, work)


@op
def find_similar_patterns(
    context: OpExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    settings: SettingsResource,
) -> LeadBatch:
    """Past leads like this one in our database, and the angle to take."""

    def work(state: LeadState) -> dict[str, Any]:
        assert state.lead is not None
        history = PostgresLeadHistory(
            database.sessions, state.item.tenant.tenant_id, state.workflow_id
        )
        return {"patterns": similar(history, state.lead)}

    return step_runner(context, database, settings, "find_similar_patterns", concurrent=True).run(
        batch, work
    )


@op
def hunt_drive_assets(
    context: OpExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    drive: DriveResource,
    settings: SettingsResource,
) -> LeadBatch:
    """Relevant files, only from the tenant's allowlisted folders."""

    def work(state: LeadState) -> dict[str, Any]:
        assert state.lead is not None
        tenant = state.item.tenant
        files = drive.for_tenant(tenant.tenant_id)
        return {"assets": hunt(files, state.lead, tenant.drive_folder_ids)}

    runner = step_runner(
        context, database, settings, "hunt_drive_assets", concurrent=True, tenants=drive.tenants
    )
    return runner.run(batch, work)


@op
def propose_meeting_slots(
    context: OpExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    calendar: CalendarResource,
    settings: SettingsResource,
) -> LeadBatch:
    """Free 30-minute slots in the owner's calendar on the next business days."""

    def work(state: LeadState) -> dict[str, Any]:
        owner = state.contact.owner if state.contact else None
        calendar_id = (owner.email if owner else None) or state.item.tenant.sender_email
        if calendar_id is None:
            return {"slots": ()}
        now = _now()
        calendars = calendar.for_tenant(state.item.tenant.tenant_id)
        busy = calendars.busy_intervals([calendar_id], now, now + timedelta(days=7))
        found = slots(
            busy.get(calendar_id, []),
            now=now,
            timezone=owner_timezone(state),
            calendar=business_calendar(state, now),
        )
        return {"slots": tuple(found)}

    runner = step_runner(
        context,
        database,
        settings,
        "propose_meeting_slots",
        concurrent=True,
        tenants=calendar.tenants,
    )
    return runner.run(batch, work)


@op
def plan_next_step(
    context: OpExecutionContext,
    batch: LeadBatch,
    database: DatabaseResource,
    settings: SettingsResource,
) -> LeadBatch:
    """One call to action and why."""

    def work(state: LeadState) -> dict[str, Any]:
        assert state.context is not None
        assert state.patterns is not None
        assert state.assets is not None
        return {"plan": plan(state.context, state.patterns, state.assets, state.slots)}

    return step_runner(context, database, settings, "plan_next_step").run(batch, work)
