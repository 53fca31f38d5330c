"""Step 11's lawful-sending decisions on one lead: may it be mailed at all, what every
message carries to unsubscribe, and when a SEND lead's email may go out.

A suppressed or stopped lead is never mailed (no Gmail draft either: a person could send
it); every draft and sent message carries List-Unsubscribe (https and mailto),
List-Unsubscribe-Post and a visible line; in SEND mode outside the recipient's business
hours (their zone when known, else the owner's) the draft waits for its window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.domain.models import DraftRef
from sales_agent_pipeline.domain.workflow import MailOutcome, ScheduledMail
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.prospect_timezone import prospect_timezone
from sales_agent_pipeline.steps.send_window import SendHours, next_send_time, send_zone
from sales_agent_pipeline.steps.unsubscribe import Unsubscribe
from sales_agent_pipeline.workflow.research import business_calendar
from sales_agent_pipeline.workflow.services import Services
from sales_agent_pipeline.workflow.state import LeadState

# How far back the mailbox's sends count against today's cap and spacing.
_TAKEN_SINCE = timedelta(days=1)


def not_mailed(reason: str, mailbox: str | None) -> MailOutcome:
    """The outcome of a lead that may not be mailed: no Gmail call, the reason kept."""
    return MailOutcome(
        mode=WorkflowMode.DRAFT_ONLY,
        mailbox=mailbox,
        suppressed_reason=reason,
        mode_reason=f"not mailed: {reason}",
    )


def unsubscribe_for(services: Services, state: LeadState, mailbox: str | None) -> Unsubscribe:
    """The lead's unsubscribe link and mailto: (a token minted for its address and
    workflow; any valid token works, so a re-run's new one is as good as the first)."""
    assert state.draft is not None
    mint = services.unsubscribe_token
    if mint is None:
        raise ConfigurationError("no unsubscribe tokens can be minted: no mail may go out")
    token = mint(state.item.tenant.tenant_id, state.draft.to, state.workflow_id)
    return Unsubscribe.of(services.settings, token, mailbox)


def windows_off(settings: Settings) -> bool:
    """SEND_WINDOW_START equal to SEND_WINDOW_END: no send window, mail goes out at once."""
    return settings.send_window_start == settings.send_window_end


@dataclass(frozen=True)
class Window:
    """When a SEND lead's email may go out, in whose zone."""

    due_at: datetime
    time_zone: str
    zone_of: str

    @property
    def local(self) -> str:
        """The due time as the recipient (or owner) reads it."""
        return self.due_at.astimezone(ZoneInfo(self.time_zone)).strftime("%a %Y-%m-%d %H:%M")

    @property
    def reason(self) -> str:
        """The mode reason a scheduled lead shows."""
        whose = {"recipient": "recipient's", "owner": "owner's"}.get(self.zone_of, "tenant's")
        return f"scheduled for {self.local} ({self.time_zone}, {whose} business hours)"


def send_window(services: Services, state: LeadState, mailbox: str | None) -> Window | None:
    """None when the email may go now; else when (the recipient's zone when known, else
    the owner's, else the tenant's; the owner's own hours when it is their zone; under the
    mailbox's daily cap and spacing)."""
    settings = services.settings
    if windows_off(settings) or services.schedule is None:
        return None
    tenant = state.item.tenant
    contact = state.contact
    owner = contact.owner if contact else None
    theirs = prospect_timezone(state.lead, contact.contact if contact else None)
    zone, whose = send_zone(theirs, owner.time_zone if owner else None, tenant.timezone)
    hours = contact.owner_hours if contact else None
    if whose == "owner" and hours is not None:
        window = SendHours.of(hours.start, hours.end, hours.days)
    else:
        window = SendHours.of(settings.send_window_start, settings.send_window_end)
    now = services.now().astimezone(UTC)
    taken = services.schedule.taken(tenant.tenant_id, mailbox or "me", now - _TAKEN_SINCE)
    due = next_send_time(
        now,
        zone,
        window,
        taken,
        daily_cap=settings.mailbox_daily_cap,
        spacing=timedelta(seconds=settings.send_spacing_seconds),
        calendar=business_calendar(state, now),
    )
    if due <= now:
        return None
    return Window(due_at=due, time_zone=zone, zone_of=whose)


def scheduler(
    services: Services, state: LeadState, mailbox: str | None, window: Window
) -> Callable[[DraftRef], MailOutcome]:
    """What step 11 calls with the written draft instead of sending it now."""
    assert services.schedule is not None
    assert state.draft is not None
    schedule = services.schedule
    draft_to = state.draft.to

    def later(draft: DraftRef) -> MailOutcome:
        due = schedule.schedule(
            ScheduledMail(
                tenant_id=state.item.tenant.tenant_id,
                workflow_id=state.workflow_id,
                mailbox=mailbox or "me",
                to_email=draft_to,
                gmail_draft_id=draft.draft_id,
                gmail_message_id=draft.message_id or None,
                gmail_thread_id=draft.thread_id or None,
                due_at=window.due_at,
                time_zone=window.time_zone,
                zone_of=window.zone_of,
            )
        )
        kept = Window(due_at=due, time_zone=window.time_zone, zone_of=window.zone_of)
        return MailOutcome(
            mode=WorkflowMode.SEND,
            draft_id=draft.draft_id,
            message_id=draft.message_id,
            thread_id=draft.thread_id,
            mailbox=mailbox,
            scheduled_for=due,
            mode_reason=kept.reason,
        )

    return later
