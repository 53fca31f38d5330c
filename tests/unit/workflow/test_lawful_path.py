"""A lead's lawful path through the steps over the fakes: HubSpot's opt-out recorded and
never mailed, owner routing (and its fallback), the owner's hours, the unsubscribe headers
and line, SEND at night scheduled."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.domain.compliance import Suppression, SuppressionKind, SuppressionReason
from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.workflow import OwnerHours
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.workflow import outputs
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState
from sales_agent_pipeline.workflow.table import STEP_TABLE
from tests.fakes.services import NOW, FakeWorld, form_payload

EMAIL = "jordan.lee@acme-robotics.example"
# Tuesday 24 November 2026, 03:00 in New York, 08:00 UTC (NOW is 09:30 UTC).
NIGHT = datetime(2026, 11, 24, 8, tzinfo=UTC)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def through(
    world: FakeWorld,
    *,
    config: Settings | None = None,
    now: datetime = NOW,
    mode: WorkflowMode | None = None,
    **fields: str,
) -> LeadState:
    """One lead through every step's work, as the runner calls it."""
    tenant = world.tenant.model_copy(update={"mode": mode})
    world.tenant = tenant
    state = world.batch(form_payload(EMAIL, firstname="Jordan", **fields)).leads[0]
    services = world.services(config, now=now)
    for step in STEP_TABLE:
        fetched = step.prefetch(services, [state])
        found = step.work(services, state, fetched)
        skip = found.pop("skip_reason", None)
        assert skip is None
        state = state.model_copy(update=found)
    return state


def opted_out(world: FakeWorld) -> None:
    contact = world.crm.upsert_contact(EMAIL, {})
    world.crm.contacts[contact.id]["hs_email_optout"] = "true"


def test_an_opted_out_contact_is_suppressed_and_never_mailed_even_in_send_mode() -> None:
    world = FakeWorld()
    opted_out(world)
    state = through(world, mode=WorkflowMode.SEND)

    assert state.contact is not None
    assert state.contact.opted_out == "suppressed (hubspot_optout: hs_email_optout)"
    key = (world.tenant.tenant_id, SuppressionKind.ADDRESS, EMAIL)
    assert world.records.suppressions[key].source == "hs_email_optout"
    # The status API is not asked when the upsert's answer already says so.
    assert world.crm.calls["email_opt_out"] == 0
    # No Gmail call could mail: no draft, nothing sent, the gate never asked.
    assert world.mail.draft_messages() == []
    assert world.mail.sent_messages() == []
    assert world.sends.asked == 0
    assert state.mail is not None
    assert state.mail.suppressed_reason == state.contact.opted_out
    assert state.mail.mode_reason == f"not mailed: {state.contact.opted_out}"
    assert world.records.suppressed[state.workflow_id] == state.contact.opted_out
    # The task is still made and says why the lead was not mailed.
    assert state.task is not None
    assert (state.task.body or "").startswith("The lead was NOT mailed: suppressed")
    batch = LeadBatch(leads=(state,))
    assert outputs.mode_tags(batch)[tags.SUPPRESSED] == "true"
    assert outputs.mail_metadata(batch)["suppressed_reason"] == state.contact.opted_out


def test_a_subscription_the_contact_left_is_an_opt_out_with_its_name() -> None:
    world = FakeWorld()
    world.crm.unsubscribed[EMAIL] = "One to One"
    state = through(world)
    assert state.mail is not None
    assert (
        state.mail.suppressed_reason == "suppressed (hubspot_optout: not subscribed to One to One)"
    )
    assert world.mail.draft_messages() == []


def test_a_suppressed_domain_or_a_stopped_workflow_is_never_mailed() -> None:
    world = FakeWorld()
    # An entry for the domain suppresses every address of it.
    key = (world.tenant.tenant_id, SuppressionKind.DOMAIN, "acme-robotics.example")
    world.records.suppressions[key] = Suppression(
        kind=SuppressionKind.DOMAIN,
        value="acme-robotics.example",
        reason=SuppressionReason.MANUAL,
        source="by hand",
    )
    state = through(world)
    assert state.mail is not None
    assert state.mail.suppressed_reason == "suppressed (manual: by hand)"
    assert world.mail.draft_messages() == []

    world = FakeWorld()
    state = world.batch(form_payload(EMAIL)).leads[0]
    world.records.stopped[state.workflow_id] = "replied"
    assert world.records.mail_block(world.tenant.tenant_id, state.workflow_id, EMAIL) == (
        "stopped (replied)"
    )


def test_every_draft_carries_the_unsubscribe_headers_and_a_visible_line() -> None:
    world = FakeWorld()
    state = through(world, config=settings(api_public_url="https://agent.ourco.example"))
    [draft] = world.mail.draft_messages()
    assert state.mail is not None
    assert state.mail.suppressed_reason is None
    token = f"tok-{state.workflow_id.hex[:8]}"
    url = f"https://agent.ourco.example/unsubscribe/{token}"
    assert f"Not interested? Unsubscribe: {url}" in draft.text_body
    assert draft.html_body is not None
    assert f'href="{url}"' in draft.html_body
    assert world.records.mailboxes[state.workflow_id] == "owner@ourco.example"


def test_the_owners_mailbox_under_delegation_else_the_tenants_sender() -> None:
    world = FakeWorld()
    owner = world.crm.add_owner("ana@ourco.example", "Ana")
    world.tenant = world.tenant.model_copy(
        update={
            "default_owner_id": owner.id,
            "owner_hours": {
                "ana@ourco.example": OwnerHours(
                    time_zone="Europe/Paris", start=time(8), end=time(12), days=(0, 1, 2, 3)
                )
            },
        }
    )
    world.delegated.add("ana@ourco.example")
    state = through(world)
    assert state.contact is not None
    assert state.contact.mailbox == "ana@ourco.example"
    assert state.contact.owner is not None
    assert state.contact.owner.time_zone == "Europe/Paris"
    # Drafted in Ana's mailbox, not the sender's.
    assert world.mail.draft_messages() == []
    assert len(world.owner_mail["ana@ourco.example"].draft_messages()) == 1
    assert world.records.mailboxes[state.workflow_id] == "ana@ourco.example"
    # Step 8's slots lie in Ana's hours and days (Paris mornings, Monday to Thursday).
    paris = ZoneInfo("Europe/Paris")
    assert state.slots
    for slot in state.slots:
        local = slot.start.astimezone(paris)
        assert 8 <= local.hour < 12
        assert local.weekday() in (0, 1, 2, 3)

    # Routing off for the tenant: the sender's mailbox.
    world.tenant = world.tenant.model_copy(update={"route_by_owner": False})
    off = through(world)
    assert off.contact is not None
    assert off.contact.mailbox is None
    assert len(world.mail.draft_messages()) == 1


def test_a_refused_delegation_falls_back_to_the_sender_and_says_why() -> None:
    world = FakeWorld()
    owner = world.crm.add_owner("bob@elsewhere.example", "Bob")
    world.tenant = world.tenant.model_copy(update={"default_owner_id": owner.id})
    state = through(world)
    assert state.contact is not None
    assert state.contact.mailbox is None
    assert "bob@elsewhere.example" in (state.contact.mailbox_reason or "")
    assert len(world.mail.draft_messages()) == 1
    assert world.records.mailboxes[state.workflow_id] == "owner@ourco.example"
    # The task still goes to the contact's owner.
    assert state.task is not None
    assert state.task.owner_id == owner.id


def test_send_at_night_schedules_the_draft_for_the_business_hours() -> None:
    world = FakeWorld()
    # The lead's zone: New York (03:00 there), read from the form.
    state = through(world, now=NIGHT, mode=WorkflowMode.SEND, timezone="America/New_York")
    assert world.mail.sent_messages() == []
    [draft] = world.mail.draft_messages()
    assert state.mail is not None
    assert state.mail.sent is False
    due = state.mail.scheduled_for
    assert due is not None
    assert due.astimezone(ZoneInfo("America/New_York")) == datetime(
        2026, 11, 24, 9, tzinfo=ZoneInfo("America/New_York")
    )
    assert state.mail.mode_reason == (
        "scheduled for Tue 2026-11-24 09:00 (America/New_York, recipient's business hours)"
    )
    scheduled = world.schedule.scheduled[state.workflow_id]
    assert scheduled.gmail_draft_id == state.mail.draft_id
    assert scheduled.zone_of == "recipient"
    # The gate's slot went back to the day: the due-sends job takes one when it sends.
    assert (
        state.workflow_id not in world.sends.slots
        or world.sends.slots[state.workflow_id].value == "released"
    )
    batch = LeadBatch(leads=(state,))
    assert outputs.mode_tags(batch)[tags.SEND] == "scheduled"
    assert outputs.mail_metadata(batch)["scheduled_for"] == due.isoformat()
    assert draft.id


def test_send_inside_the_window_sends_now_and_windows_can_be_turned_off() -> None:
    world = FakeWorld()
    state = through(world, mode=WorkflowMode.SEND)  # 09:30 UTC on a Tuesday
    assert state.mail is not None
    assert state.mail.sent
    world = FakeWorld()
    off = settings(send_window_start=time(0), send_window_end=time(0))
    state = through(world, config=off, now=NIGHT, mode=WorkflowMode.SEND, timezone="Asia/Tokyo")
    assert state.mail is not None
    assert state.mail.sent
