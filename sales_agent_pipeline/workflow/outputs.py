"""Steps 10-13's work on one lead: the writes to Gmail, HubSpot and our own records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.domain.drafting import WriterKind
from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.models import NewTask
from sales_agent_pipeline.ports.writer import DraftWriter
from sales_agent_pipeline.steps.create_gmail_draft import create_gmail_draft as draft_or_send
from sales_agent_pipeline.steps.create_hubspot_task import build_task, create_hubspot_task, task_due
from sales_agent_pipeline.steps.record_audit import label_thread
from sales_agent_pipeline.steps.write_draft import (
    TEMPLATE,
    DraftInputs,
    usage_counts,
    write_draft,
    writer_or_unavailable,
)
from sales_agent_pipeline.workflow.batched import create_tasks, per_tenant
from sales_agent_pipeline.workflow.research import business_calendar, owner_timezone
from sales_agent_pipeline.workflow.services import Services
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState


def draft(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 10: the email, written by the tenant's writer (or the template writer in its
    stead); stored with its provenance before Gmail sees it."""
    assert state.lead is not None
    assert state.context is not None
    assert state.plan is not None
    tenant = state.item.tenant
    settings = services.settings
    chosen = tenant.writer
    kind = chosen.writer or settings.draft_writer
    budget_left: int | None = None
    writer: DraftWriter = TEMPLATE
    if kind is not WriterKind.TEMPLATE:
        writer = writer_or_unavailable(services.writer, kind)
        budget = chosen.daily_token_budget
        if budget is None:
            budget = settings.llm_daily_token_budget
        budget_left = budget - services.tokens.spent_today(tenant.tenant_id)
    contact = state.contact
    content = write_draft(
        DraftInputs(
            lead=state.lead,
            context=state.context,
            plan=state.plan,
            voice=tenant.voice,
            assets=state.assets,
            patterns=state.patterns,
            company=state.company.company if state.company else None,
            owner=contact.owner if contact else None,
            preferences=state.preferences,
            language_hint=contact.contact.properties.get("hs_language") if contact else None,
        ),
        writer,
        chosen,
        model=chosen.model or settings.llm_model,
        budget_left=budget_left,
    )
    if kind is not WriterKind.TEMPLATE and content.provenance is not None:
        services.tokens.record(tenant.tenant_id, usage_counts(content.provenance))
    candidates = [state.plan.asset, *(state.assets.ranked if state.assets else ())]
    links = set(content.asset_links)
    sent_assets = {f.id: f for f in candidates if f is not None and f.web_link in links}
    services.records.save_draft(state.workflow_id, content, list(sent_assets.values()))
    return {"draft": content}


def mail(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 11: DRAFT_ONLY drafts (in the thread when one exists); SEND drafts and sends
    that draft when the send gate grants a slot at that moment. Once."""
    assert state.draft is not None
    assert state.context is not None
    tenant = state.item.tenant
    previous = services.records.previous_mail(state.workflow_id)
    outcome = draft_or_send(
        services.mail(tenant.tenant_id),
        services.effects.for_workflow(state.workflow_id),
        services.sends,
        tenant_id=tenant.tenant_id,
        workflow_id=state.workflow_id,
        content=state.draft,
        context=state.context,
        mode=wanted_mode(services, state),
        previous=previous,
    )
    services.records.record_mail(state.workflow_id, outcome)
    return {"mail": outcome}


def wanted_mode(services: Services, state: LeadState) -> WorkflowMode:
    """The mode the lead was claimed in: only a SEND lead asks the gate for a slot (which
    re-reads the mode, the switches and the cap)."""
    return state.item.mode_override or state.item.tenant.mode or services.settings.workflow_mode


def drafting_only(services: Services, batch: LeadBatch) -> bool:
    """Sends take turns within a run (each takes its slot with the tenant's row locked, so
    threads would only queue on that lock); a batch that only drafts goes at once."""
    return not any(wanted_mode(services, state) is WorkflowMode.SEND for state in batch.active)


def mode_tags(batch: LeadBatch) -> dict[str, str]:
    """The run's mode tag; a batch whose leads went out in different modes is "mixed"."""
    modes = {state.mail.mode.value for state in batch.leads if state.mail is not None}
    if not modes:
        return {}
    return {tags.MODE: modes.pop() if len(modes) == 1 else "mixed"}


def planned_task(state: LeadState, now: datetime) -> tuple[NewTask, datetime]:
    """The lead's follow-up task and when it is due."""
    assert state.contact is not None
    assert state.draft is not None
    assert state.plan is not None
    assert state.mail is not None
    due = task_due(now, owner_timezone(state), business_calendar(state, now))
    owner = state.contact.owner
    found = state.company.company if state.company else None
    new_task = build_task(
        workflow_id=str(state.workflow_id),
        draft=state.draft,
        plan=state.plan,
        draft_link=state.mail.link,
        due_at=due,
        owner_id=owner.id if owner else None,
        contact_id=state.contact.contact.id,
        company_id=found.id if found else None,
        sent=state.mail.sent,
    )
    return new_task, due


def create_task_batch(services: Services, leads: Sequence[LeadState]) -> None:
    """A batch of leads creates its tasks 100 per call first (HubSpot's batch create), each
    under its workflow's idempotency record; the per-lead work then finds them done. Each
    tenant's tasks go in its own calls, into its own portal."""
    for crm, states in per_tenant(leads, services.crm, services.log):
        tasks: dict[uuid.UUID, NewTask] = {
            state.workflow_id: planned_task(state, services.now())[0]
            for state in states
            if state.contact and state.draft and state.plan and state.mail
        }
        create_tasks(services.effects, crm, tasks, services.log)


def task(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 12: the owner's follow-up task, due in two business days, linked to contact
    and company."""
    new_task, due = planned_task(state, services.now())
    assert state.contact is not None
    owner = state.contact.owner
    found = state.company.company if state.company else None
    crm = services.crm(state.item.tenant.tenant_id)
    effects = services.effects.for_workflow(state.workflow_id)
    made = create_hubspot_task(crm, effects, str(state.workflow_id), new_task)
    services.records.save_task(
        state.workflow_id,
        made,
        contact_id=state.contact.contact.id,
        company_id=found.id if found else None,
        owner_id=owner.id if owner else None,
        due_date=due.date(),
    )
    return {"task": made}


def audit(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 13: label the thread and close the workflow with its status and duration."""
    label_thread(services.mail(state.item.tenant.tenant_id), state.mail)
    services.records.finish(state.workflow_id, state.mail.mode if state.mail else None)
    return {}
