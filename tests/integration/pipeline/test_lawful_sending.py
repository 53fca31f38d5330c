"""Lawful sending on the lead's path, through PostgreSQL, the sandbox and the SDKs: a
contact HubSpot says opted out is never mailed (its draft row marked, the reason in the
run's metadata and tags, the task saying so); every Gmail draft carries one-click
unsubscribe; a lead is drafted in its owner's mailbox under delegation and in the tenant's
sender's when delegation is refused; SEND outside business hours schedules instead."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from dagster import DagsterInstance
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.db.models import (
    DraftEmail,
    ScheduledSend,
    Suppression,
    Tenant,
    Workflow,
)
from sales_agent_pipeline.secretbox import unsubscribe_tokens
from sales_agent_pipeline.settings import get_settings
from tests.integration.pipeline.conftest import Lead
from tests.integration.pipeline.tenancy import add_company
from tests.integration.pipeline.tenancy import submit as submit_to
from tests.sandbox.conftest import Admin

STEP_11 = "lead_followup.create_gmail_draft"
STEP_2 = "lead_followup.resolve_contact"


def drafts_to(sandbox: Admin, email: str) -> list[dict[str, Any]]:
    return [d for d in sandbox.drafts() if email in d["to"]]


def sent_to(sandbox: Admin, email: str) -> list[dict[str, Any]]:
    return [m for m in sandbox.sent() if email in m["to"]]


def header(message: dict[str, Any], name: str) -> str | None:
    return next((h["value"] for h in message["headers"] if h["name"].lower() == name.lower()), None)


def rows(engine: Engine, lead: Lead) -> tuple[Workflow, DraftEmail]:
    with Session(engine, expire_on_commit=False) as session:
        workflow = session.get_one(Workflow, lead.workflow_id)
        draft = session.scalars(
            select(DraftEmail).where(DraftEmail.workflow_id == lead.workflow_id)
        ).one()
    return workflow, draft


def output_metadata(result: Any, node: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for event in result.events_for_node(node):
        if event.event_type_value == "STEP_OUTPUT":
            found |= {k: v.value for k, v in event.event_specific_data.metadata.items()}
    return found


def run_tags_of(instance: DagsterInstance, run_id: str) -> dict[str, str]:
    found = instance.get_run_by_id(run_id)
    assert found is not None
    return dict(found.tags)


def tasks_for(sandbox: Admin, lead: Lead) -> list[dict[str, Any]]:
    return [
        t
        for t in sandbox.tasks()
        if str(lead.workflow_id) in (t["properties"]["hs_task_body"] or "")
    ]


def test_a_contact_opted_out_in_hubspot_is_never_mailed_and_its_draft_is_marked(
    sandbox: Admin,
    submit: Any,
    run: Any,
    engine: Engine,
    instance: DagsterInstance,
    monkeypatch: Any,
) -> None:
    email = f"optedout.{uuid.uuid4().hex[:6]}@ledgerline.example"
    sandbox.seed(portalId=1000, contacts=[{"email": email, "hs_email_optout": "true"}])
    monkeypatch.setenv("WORKFLOW_MODE", "SEND")
    get_settings.cache_clear()
    lead = submit(email)
    result = run(lead)
    assert result.success

    # No Gmail draft a person could send, nothing sent.
    assert drafts_to(sandbox, email) == []
    assert sent_to(sandbox, email) == []
    workflow, draft = rows(engine, lead)
    assert draft.gmail_draft_id is None
    assert draft.sent is False
    assert draft.suppressed_reason == "suppressed (hubspot_optout: hs_email_optout)"
    assert workflow.suppressed_reason == draft.suppressed_reason
    assert workflow.status == "succeeded"
    with Session(engine) as session:
        entry = session.scalars(select(Suppression).where(Suppression.value == email.lower())).one()
    assert (entry.kind, entry.reason, entry.source) == (
        "address",
        "hubspot_optout",
        "hs_email_optout",
    )
    assert entry.workflow_id == lead.workflow_id

    # Operators see why: the op's metadata, the run's tag.
    shown = output_metadata(result, STEP_11)
    assert shown["suppressed_reason"] == draft.suppressed_reason
    assert shown["sent"] is False
    assert run_tags_of(instance, result.run_id)[tags.SUPPRESSED] == "true"
    lead_view = result.asset_materializations_for_node("lead_followup")[0].metadata
    assert lead_view["suppressed_reason"].value == draft.suppressed_reason
    # The owner's task is still made and says the lead was not mailed, and why.
    tasks = tasks_for(sandbox, lead)
    assert len(tasks) == 1
    body = tasks[0]["properties"]["hs_task_body"]
    assert "NOT mailed" in body
    assert "hubspot_optout" in body

    # A re-run still never mails it (the list now says so before HubSpot is asked).
    again = run(lead, trigger="retry")
    assert again.success
    assert drafts_to(sandbox, email) == []
    assert sent_to(sandbox, email) == []


def test_a_contact_not_subscribed_to_a_subscription_is_suppressed(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    email = f"unsubscribed.{uuid.uuid4().hex[:6]}@ledgerline.example"
    sandbox.seed(
        portalId=1000,
        contacts=[{"email": email}],
        emailSubscriptions={email: {"8000001": "NOT_SUBSCRIBED"}},
    )
    lead = submit(email)
    assert run(lead).success

    assert drafts_to(sandbox, email) == []
    workflow, draft = rows(engine, lead)
    assert draft.suppressed_reason is not None
    assert draft.suppressed_reason.startswith("suppressed (hubspot_optout: ")
    assert "One to One" in draft.suppressed_reason
    assert workflow.suppressed_reason == draft.suppressed_reason


def test_every_gmail_draft_carries_one_click_unsubscribe(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    email = f"headers.{uuid.uuid4().hex[:6]}@northwind.example"
    lead = submit(email)
    assert run(lead).success

    drafts = drafts_to(sandbox, email)
    assert len(drafts) == 1
    draft = drafts[0]
    listed = header(draft, "List-Unsubscribe")
    assert listed is not None
    https, mailto = (part.strip().strip("<>") for part in listed.split(","))
    assert https.startswith("http://127.0.0.1:8000/unsubscribe/")
    token = https.rsplit("/", 1)[1]
    assert mailto.startswith("mailto:")
    assert unquote(mailto.split("subject=", 1)[1]) == f"unsubscribe {token}"
    assert header(draft, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    # The token names the lead's tenant, address and workflow (and nothing readable).
    claim = unsubscribe_tokens(get_settings()).read(token)
    assert claim.email == email
    assert claim.workflow_id == lead.workflow_id
    assert email not in token
    # A visible line at the end of the body.
    assert f"Unsubscribe: {https}" in draft["body"]
    workflow, row = rows(engine, lead)
    assert row.suppressed_reason is None
    assert workflow.mailbox is not None


def owner_setup(sandbox: Admin, engine: Engine, name: str) -> Any:
    """A tenant whose service account is delegated for its own domain, with two more
    owners: one in that domain, one in a domain without delegation."""
    company = add_company(engine, sandbox, name)
    domain = company.mailbox.split("@", 1)[1]
    inside, outside = f"ana@{domain}", f"bob@elsewhere-{company.portal_id}.example"
    sandbox.seed(
        portalId=company.portal_id,
        owners=[
            {"id": "90000002", "email": inside, "firstName": "Ana", "lastName": "Owner"},
            {"id": "90000003", "email": outside, "firstName": "Bob", "lastName": "Owner"},
        ],
        calendars=[
            {"id": inside, "timeZone": "UTC", "busy": []},
            {"id": outside, "timeZone": "UTC", "busy": []},
        ],
    )
    return company, inside, outside


def test_a_lead_is_drafted_in_its_owners_mailbox_under_delegation(
    sandbox: Admin, engine: Engine, run: Any
) -> None:
    sandbox.config(google_require_auth=True)
    company, inside, _ = owner_setup(sandbox, engine, "routed")
    with Session(engine) as session, session.begin():
        session.execute(
            update(Tenant)
            .where(Tenant.id == company.tenant.id)
            .values(
                default_owner_id="90000002",
                owner_hours={
                    inside: {"time_zone": "Europe/Paris", "start": "08:00", "end": "16:00"}
                },
            )
        )
    email = f"routed.{uuid.uuid4().hex[:6]}@robots.example"
    lead = submit_to(engine, company, email)
    result = run(lead)
    assert result.success

    drafts = drafts_to(sandbox, email)
    assert [d["user"] for d in drafts] == [inside]
    workflow, row = rows(engine, lead)
    assert workflow.mailbox == inside
    assert row.gmail_draft_id == drafts[0]["draftId"]
    assert output_metadata(result, STEP_11)["mailbox"] == inside
    # The owner's task, the owner's hours for the proposed slots (Paris, 08:00-16:00).
    contact = result.output_for_node(STEP_2).leads[0].contact
    assert contact.owner.email == inside
    assert contact.owner.time_zone == "Europe/Paris"
    slots = result.output_for_node("lead_followup.propose_meeting_slots").leads[0].slots
    assert slots
    for slot in slots:
        local = slot.start.astimezone(ZoneInfo("Europe/Paris"))
        assert 8 <= local.hour < 16
    tasks = tasks_for(sandbox, lead)
    assert tasks[0]["properties"]["hubspot_owner_id"] == "90000002"


def test_a_refused_delegation_falls_back_to_the_tenants_sender(
    sandbox: Admin, engine: Engine, run: Any
) -> None:
    sandbox.config(google_require_auth=True)
    company, _, outside = owner_setup(sandbox, engine, "fallback")
    with Session(engine) as session, session.begin():
        session.execute(
            update(Tenant).where(Tenant.id == company.tenant.id).values(default_owner_id="90000003")
        )
    email = f"fallback.{uuid.uuid4().hex[:6]}@robots.example"
    lead = submit_to(engine, company, email)
    result = run(lead)
    assert result.success

    drafts = drafts_to(sandbox, email)
    assert [d["user"] for d in drafts] == [company.mailbox]
    workflow, _ = rows(engine, lead)
    assert workflow.mailbox == company.mailbox
    contact = result.output_for_node(STEP_2).leads[0].contact
    assert contact.mailbox is None
    assert outside in (contact.mailbox_reason or "")
    # The task still goes to the contact's owner.
    assert tasks_for(sandbox, lead)[0]["properties"]["hubspot_owner_id"] == "90000003"


def test_send_mode_at_night_schedules_instead_of_sending(
    sandbox: Admin,
    submit: Any,
    run: Any,
    engine: Engine,
    instance: DagsterInstance,
    tenant: Tenant,
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("WORKFLOW_MODE", "SEND")
    # A one-hour window that is closed now, whatever the hour the test runs at (read in the
    # tenant's zone: the lead's is unknown and the demo owner has no hours).
    now = datetime.now(UTC)
    local = now.astimezone(ZoneInfo(tenant.timezone))
    start = 13 if local.hour < 12 else 1
    monkeypatch.setenv("SEND_WINDOW_START", f"{start:02d}:00")
    monkeypatch.setenv("SEND_WINDOW_END", f"{start + 1:02d}:00")
    get_settings.cache_clear()
    email = f"night.{uuid.uuid4().hex[:6]}@ledgerline.example"
    lead = submit(email)
    result = run(lead)
    assert result.success

    assert sent_to(sandbox, email) == []
    drafts = drafts_to(sandbox, email)
    assert len(drafts) == 1
    assert header(drafts[0], "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    with Session(engine) as session:
        scheduled = session.get_one(ScheduledSend, lead.workflow_id)
        assert scheduled.status == "scheduled"
        assert scheduled.gmail_draft_id == drafts[0]["draftId"]
        assert scheduled.due_at > now
        assert scheduled.to_email == email
    shown = output_metadata(result, STEP_11)
    assert shown["scheduled_for"] == scheduled.due_at.isoformat()
    assert shown["mode_reason"].startswith("scheduled for ")
    assert run_tags_of(instance, result.run_id)[tags.SEND] == "scheduled"
    _, row = rows(engine, lead)
    assert row.sent is False
