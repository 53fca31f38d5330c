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
from sales_agent_pipeline.domain.workflow import MailOutcome
from sales_agent_pipeline.steps.create_gmail_draft import create_gmail_draft as draft_or_send
from sales_agent_pipeline.steps.create_hubspot_task import build_task, create_hubspot_task, task_due
from sales_agent_pipeline.steps.record_audit import label_thread
from sales_agent_pipeline.steps.write_draft import (
    usage_counts,
    write_draft,
)
from sales_agent_pipeline.workflow.batched import create_tasks, per_tenant
from sales_agent_pipeline.workflow.drafting import choose_writer, draft_inputs, sent_assets
from sales_agent_pipeline.workflow.lawful import (
    not_mailed,
    scheduler,
    send_window,
    unsubscribe_for,
)
from sales_agent_pipeline.workflow.research import business_calendar, owner_timezone
from sales_agent_pipeline.workflow.routing import lead_mailbox, sending_address
from sales_agent_pipeline.workflow.services import Services
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState


def draft(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 10: the email, written by the tenant's writer (or the template writer in its
    stead); stored with its provenance before Gmail sees it."""
    tenant = state.item.tenant
    choice = choose_writer(tenant, services.settings, services.writer, services.tokens.spent_today)
    content = write_draft(
        draft_inputs(state),
        choice.writer,
        tenant.writer,
        model=choice.model,
        budget_left=choice.budget_left,
    )
    if choice.kind is not WriterKind.TEMPLATE and content.provenance is not None:
        services.tokens.record(tenant.tenant_id, usage_counts(content.provenance))
    services.records.save_draft(state.workflow_id, content, sent_assets(state, content))
    return {"draft": content}


def mail(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 11: a suppressed or stopped lead is not mailed (its draft row marked with why,
    no Gmail draft); else DRAFT_ONLY drafts (in the thread when one exists), SEND drafts and
    sends that draft when the send gate grants a slot at that moment, or schedules it for
    the recipient's business hours. Once. Every message carries one-click unsubscribe."""
    assert state.draft is not None
    assert state.context is not None
    tenant = state.item.tenant
    mailbox = lead_mailbox(state)
    address = sending_address(state, services.settings)
    previous = services.records.previous_mail(state.workflow_id)
    if previous is None or not previous.sent:
        blocked = services.records.mail_block(tenant.tenant_id, state.workflow_id, state.draft.to)
        if blocked is not None:
            outcome = not_mailed(blocked, address)
            services.records.record_mail(state.workflow_id, outcome)
            return {"mail": outcome}
    unsubscribe = unsubscribe_for(services, state, address)
    mode = wanted_mode(services, state)
    window = send_window(services, state, address) if mode is WorkflowMode.SEND else None
    outcome = draft_or_send(
        services.mail(tenant.tenant_id, mailbox),
        services.effects.for_workflow(state.workflow_id),
        services.sends,
        tenant_id=tenant.tenant_id,
        workflow_id=state.workflow_id,
        content=unsubscribe.appended(state.draft),
        context=state.context,
        mode=mode,
        previous=previous,
        headers=unsubscribe.headers,
        later=scheduler(services, state, address, window) if window else None,
    )
    outcome = outcome.model_copy(update={"mailbox": address})
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
    """The run's mode tag ("mixed" for a batch whose leads went out in different modes);
    a run with a lead not mailed (suppressed, stopped) or scheduled says so."""
    outcomes = [state.mail for state in batch.leads if state.mail is not None]
    modes = {outcome.mode.value for outcome in outcomes}
    if not modes:
        return {}
    found = {tags.MODE: modes.pop() if len(modes) == 1 else "mixed"}
    if any(outcome.suppressed_reason for outcome in outcomes):
        found[tags.SUPPRESSED] = "true"
    if any(outcome.scheduled_for for outcome in outcomes):
        found[tags.SEND] = "scheduled"
    return found


def mail_metadata(batch: LeadBatch) -> dict[str, Any]:
    """Step 11's output metadata: one lead's mailbox, why it was not mailed, when its
    email is scheduled; a batch's counts."""
    outcomes = [state.mail for state in batch.leads if state.mail is not None]
    if len(batch.leads) == 1 and outcomes:
        outcome = outcomes[0]
        found: dict[str, Any] = {"mode": outcome.mode.value, "sent": outcome.sent}
        if outcome.mailbox:
            found["mailbox"] = outcome.mailbox
        if outcome.mode_reason:
            found["mode_reason"] = outcome.mode_reason
        if outcome.suppressed_reason:
            found["suppressed_reason"] = outcome.suppressed_reason
        if outcome.scheduled_for:
            found["scheduled_for"] = outcome.scheduled_for.isoformat()
        return found
    return {
        "sent": sum(1 for outcome in outcomes if outcome.sent),
        "suppressed": sum(1 for outcome in outcomes if outcome.suppressed_reason),
        "scheduled": sum(1 for outcome in outcomes if outcome.scheduled_for),
    }


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
    note = mail_note(state.mail)
    if note:
        new_task = new_task.model_copy(update={"body": f"{note}\n\n{new_task.body}".strip()})
    return new_task, due


def mail_note(outcome: MailOutcome) -> str | None:
    """What the owner's task says first when the lead was not mailed, or not yet."""
    if outcome.suppressed_reason:
        return (
            f"The lead was NOT mailed: {outcome.suppressed_reason}. No Gmail draft was made; "
            "do not email them."
        )
    if outcome.scheduled_for and outcome.mode_reason:
        return f"The email is {outcome.mode_reason}."
    return None


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
    label_thread(services.mail(state.item.tenant.tenant_id, lead_mailbox(state)), state.mail)
    services.records.finish(state.workflow_id, state.mail.mode if state.mail else None)
    return {}
