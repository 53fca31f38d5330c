"""Steps 1-9's work on one lead: a call into `steps/` over the ports, and the fields it
fills in. The table (`workflow/table.py`) says how each is scheduled."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.domain.compliance import SuppressionReason
from sales_agent_pipeline.domain.enums import SubmissionSource
from sales_agent_pipeline.domain.errors import PermanentError
from sales_agent_pipeline.domain.workflow import ContactResult, Speaker
from sales_agent_pipeline.steps.business_days import BusinessCalendar
from sales_agent_pipeline.steps.find_similar_patterns import find_similar_patterns
from sales_agent_pipeline.steps.hunt_drive_assets import hunt_drive_assets
from sales_agent_pipeline.steps.language import detect_language
from sales_agent_pipeline.steps.plan_next_step import plan_next_step
from sales_agent_pipeline.steps.propose_meeting_slots import choose_meeting_slots, search_until
from sales_agent_pipeline.steps.prospect_timezone import prospect_timezone
from sales_agent_pipeline.steps.read_thread_context import read_thread_context
from sales_agent_pipeline.steps.resolve_company import KnownCompanies, company_keys, resolve_company
from sales_agent_pipeline.steps.resolve_contact import (
    opt_out_source,
    resolve_contact,
    source_of,
)
from sales_agent_pipeline.steps.search_gmail_threads import search_gmail_threads
from sales_agent_pipeline.steps.slot_preferences import parse_preferences
from sales_agent_pipeline.steps.validate_payload import validate_payload
from sales_agent_pipeline.workflow.batched import per_tenant, search_companies, upsert_contacts
from sales_agent_pipeline.workflow.routing import (
    choose_mailbox,
    hours_of,
    lead_mailbox,
    with_hours,
)
from sales_agent_pipeline.workflow.services import Services
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState


def validate(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 1: normalise the submission into a lead (or reject or skip it)."""
    item = state.item
    # An imported row comes from no form: the form allowlist does not apply to it. A form
    # belongs to one portal: only the tenant's own allowlist applies (the global
    # ALLOWED_FORM_IDS only seeds the single-portal tenant's row).
    imported = item.source is SubmissionSource.IMPORT
    outcome = validate_payload(
        item.payload,
        allowed_form_ids=() if imported else item.tenant.allowed_form_ids,
        form_id=item.form_id,
        portal_id=item.tenant.portal_id,
        submission_id=item.hubspot_submission_id,
        submitted_at=item.submitted_at,
        previous_submission_at=item.previous_submission_at,
        throttle_window=timedelta(seconds=item.tenant.throttle_window_seconds),
        now=services.now(),
    )
    services.records.note_lead(item.workflow_id, outcome.lead)
    return {"lead": outcome.lead, "skip_reason": outcome.skip_reason}


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


def upsert_batch(services: Services, leads: Sequence[LeadState]) -> dict[uuid.UUID, ContactResult]:
    """A batch of leads upserts its contacts 100 per call first (HubSpot's batch upsert),
    each tenant's in its own calls with its own token."""
    batched: dict[uuid.UUID, ContactResult] = {}
    for crm, states in per_tenant(leads, services.crm, services.log):
        batched |= upsert_contacts(
            crm,
            {state.workflow_id: state.lead for state in states if state.lead is not None},
            services.log,
        )
    return batched


def contact(
    services: Services, state: LeadState, batched: dict[uuid.UUID, ContactResult]
) -> dict[str, Any]:
    """Step 2: upsert the contact by email and find its owner (the tenant's default else);
    HubSpot's opt-out of the address goes on the tenant's suppression list; the mailbox
    the lead's mail is written in (its owner's under delegation, else the tenant's sender)
    is chosen and kept on the workflow."""
    assert state.lead is not None
    tenant = state.item.tenant
    crm = services.crm(tenant.tenant_id)
    result = batched.get(state.workflow_id) or resolve_contact(crm, state.lead)
    owner = result.owner
    if owner is None and tenant.default_owner_id:
        owner = crm.get_owner(tenant.default_owner_id)
    hours = hours_of(tenant, owner)
    owner = with_hours(owner, hours)
    opted_out = None
    source = (
        source_of(result.hubspot_opt_out)
        if result.opt_out_checked
        else opt_out_source(result.contact, crm, state.lead.email)
    )
    if source is not None:
        opted_out = services.records.suppress(
            tenant.tenant_id,
            state.workflow_id,
            state.lead.email,
            SuppressionReason.HUBSPOT_OPTOUT,
            source=source,
        )
    mailbox, why = choose_mailbox(services, tenant, owner)
    update = {
        "owner": owner,
        "owner_hours": hours,
        "mailbox": mailbox,
        "mailbox_reason": why,
        "opted_out": opted_out,
    }
    return {"contact": result.model_copy(update=update)}


def search_batch(services: Services, leads: Sequence[LeadState]) -> dict[uuid.UUID, KnownCompanies]:
    """A batch of leads searches its companies 100 domains (or names) per search first, each
    tenant's in its own portal."""
    known: dict[uuid.UUID, KnownCompanies] = {}
    for crm, states in per_tenant(leads, services.crm, services.log):
        found = [state.lead for state in states if state.lead is not None]
        known[states[0].item.tenant.tenant_id] = search_companies(crm, found, services.log)
    return known


def company(
    services: Services, state: LeadState, known: dict[uuid.UUID, KnownCompanies]
) -> dict[str, Any]:
    """Step 3: find or create the company and associate the contact."""
    assert state.lead is not None
    assert state.contact is not None
    tenant_id = state.item.tenant.tenant_id
    found = resolve_company(
        services.crm(tenant_id),
        services.effects.for_workflow(state.workflow_id),
        state.lead,
        state.contact.contact.id,
        known.get(tenant_id, {}),
    )
    return {"company": found}


def company_group(state: LeadState) -> object:
    """What a lead's company is found or created by: its tenant, and its domain or name.

    Leads of one company take turns (the first may create it; the others then find the
    creation's idempotency record); different companies go at once.
    """
    if state.lead is None:
        return state.workflow_id
    domain, name = company_keys(state.lead)
    key = (domain or name or str(state.workflow_id)).strip().lower()
    return (state.item.tenant.tenant_id, key)


def threads(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 4: threads from or to the prospect."""
    assert state.lead is not None
    mail = services.mail(state.item.tenant.tenant_id, lead_mailbox(state))
    return {"threads": tuple(search_gmail_threads(mail, state.lead))}


def thread_context(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 5: the latest thread's last message and who wrote it."""
    assert state.lead is not None
    mail = services.mail(state.item.tenant.tenant_id, lead_mailbox(state))
    return {"context": read_thread_context(mail, state.threads, state.lead)}


def patterns(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 6: past leads like this one in our database, and the angle to take."""
    assert state.lead is not None
    history = services.history(state.item.tenant.tenant_id, state.workflow_id)
    return {"patterns": find_similar_patterns(history, state.lead)}


def assets(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 7: relevant files, only from the tenant's allowlisted folders."""
    assert state.lead is not None
    tenant = state.item.tenant
    files = services.drive(tenant.tenant_id)
    return {"assets": hunt_drive_assets(files, state.lead, tenant.drive_folder_ids)}


def owner_timezone(state: LeadState) -> str:
    """The owner's zone when HubSpot knows it, else the tenant's."""
    owner = state.contact.owner if state.contact else None
    return (owner.time_zone if owner else None) or state.item.tenant.timezone


def business_calendar(state: LeadState, now: datetime) -> BusinessCalendar:
    """The tenant's holidays this year and next; the owner's working days when the
    tenant's owner_hours name them (else Monday to Friday)."""
    tenant = state.item.tenant
    calendar = BusinessCalendar.for_country(
        tenant.holiday_country, years=(now.year, now.year + 1), extra=tenant.extra_holidays
    )
    hours = state.contact.owner_hours if state.contact else None
    if hours is None:
        return calendar
    return replace(calendar, weekend=frozenset(range(7)) - frozenset(hours.days))


def stated_times(state: LeadState) -> str | None:
    """What the prospect wrote that may say when to meet: the form's message, and the
    thread's last message when they wrote it (a reply of ours says nothing of their wishes)."""
    texts = [state.lead.interest if state.lead else None]
    context = state.context
    if context is not None and context.last_speaker is Speaker.PROSPECT:
        texts.append(context.last_message_text)
    return "\n".join(text for text in texts if text) or None


def slots(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 8: free 30-minute slots in the owner's calendar and hours, those the lead asked
    for (read in their zone) when they said when, else on the next business days."""
    owner = state.contact.owner if state.contact else None
    calendar_id = (owner.email if owner else None) or state.item.tenant.sender_email
    now = services.now()
    zone = owner_timezone(state)
    theirs = prospect_timezone(state.lead, state.contact.contact if state.contact else None)
    text = stated_times(state)
    # The language decides how "3/12" reads (day first outside English), and "Mon" in French.
    language = detect_language([text])
    preferences = parse_preferences(text, now=now, zone=theirs or zone, language=language)
    if calendar_id is None:
        return {"slots": (), "preferences": preferences}
    calendars = services.calendar(state.item.tenant.tenant_id)
    calendar = business_calendar(state, now)
    # The busy look-up covers every day a stated wish may be searched on.
    try:
        busy = calendars.busy_intervals([calendar_id], now, search_until(now, zone, calendar))
    except PermanentError:
        if state.contact is None or state.contact.mailbox_reason is None:
            raise
        # An owner the tenant's identity may not act for (outside its delegated domains)
        # has a calendar it cannot see either: no slots; the email asks for a time.
        services.log.warning(f"no free/busy for owner {calendar_id}: no slots proposed")
        return {"slots": (), "preferences": preferences}
    hours = state.contact.owner_hours if state.contact else None
    found = choose_meeting_slots(
        busy.get(calendar_id, []),
        now=now,
        timezone=zone,
        calendar=calendar,
        preferences=preferences,
        prospect_timezone=theirs,
        hours=hours.working_hours if hours else None,
    )
    return {"slots": tuple(found.slots), "preferences": found.preferences}


def plan(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """Step 9: one call to action and why."""
    assert state.context is not None
    assert state.patterns is not None
    assert state.assets is not None
    return {"plan": plan_next_step(state.context, state.patterns, state.assets, state.slots)}
