"""What each of the 13 steps hands to the next: typed, immutable, JSON-serialisable."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sales_agent_pipeline.domain.drafting import DraftProvenance, WriterSettings
from sales_agent_pipeline.domain.enums import SubmissionSource, WorkflowMode
from sales_agent_pipeline.domain.models import Company, Contact, DriveFile, Owner
from sales_agent_pipeline.domain.schedule import MeetingSlot, WorkingHours


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class OwnerHours(_Frozen):
    """An owner's working hours (tenants.owner_hours[owner email]): their zone, the local
    start and end of a working day, and its weekdays (0 Monday .. 6 Sunday)."""

    time_zone: str | None = None
    start: time = time(9, 0)
    end: time = time(17, 0)
    days: tuple[int, ...] = (0, 1, 2, 3, 4)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, zone: str | None) -> str | None:
        if zone is None or not zone.strip():
            return None
        try:
            ZoneInfo(zone.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}") from None
        return zone.strip()

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if not days or any(not 0 <= day <= 6 for day in days):
            raise ValueError("days are weekdays 0 (Monday) to 6 (Sunday), at least one")
        return tuple(sorted(set(days)))

    @model_validator(mode="after")
    def _ordered(self) -> OwnerHours:
        if self.end <= self.start:
            raise ValueError("working hours must end after they start")
        return self

    @property
    def working_hours(self) -> WorkingHours:
        """The hours of a working day, as step 8 books them."""
        return WorkingHours(start=self.start, end=self.end)


class ContactResult(_Frozen):
    """Step 2: the HubSpot contact and, when assigned, its owner; the mailbox the lead's
    mail is written in (None: the tenant's sender) and why; the contact's HubSpot opt-out."""

    contact: Contact
    owner: Owner | None = None
    # The owner's mailbox under domain-wide delegation; None: the tenant's sender.
    mailbox: str | None = None
    # Why the mailbox is the tenant's sender when routing by owner was asked for.
    mailbox_reason: str | None = None
    # The owner's hours from the tenant's owner_hours, when it has them.
    owner_hours: OwnerHours | None = None
    # The suppression's label when HubSpot says the contact opted out of email.
    opted_out: str | None = None
    # A batch already asked HubSpot whether the address opted out (and what it said).
    opt_out_checked: bool = False
    hubspot_opt_out: str | None = None


class CompanyResult(_Frozen):
    """Step 3: the company (None for a free-mail lead without a company name)."""

    company: Company | None = None
    created: bool = False
    matched_by: str | None = Field(default=None, description="domain, name or None")
    reason: str | None = None


class Speaker(StrEnum):
    """Who wrote the last message of a thread."""

    PROSPECT = "prospect"
    US = "us"


class ThreadContext(_Frozen):
    """Step 5: the latest thread with the prospect, reduced to what a reply needs."""

    thread_id: str | None = None
    subject: str | None = None
    last_message_text: str | None = None
    last_speaker: Speaker | None = None
    last_message_at: datetime | None = None
    message_count: int = 0
    # What a reply needs to thread: the last message's Message-ID and its References.
    last_message_id_header: str | None = None
    references: tuple[str, ...] = ()


class SimilarPatterns(_Frozen):
    """Step 6: how past leads like this one went, and the angle that follows."""

    matches: int = 0
    drafts_sent: int = 0
    tasks_completed: int = 0
    same_domain: int = 0
    angle: str


class AssetChoice(_Frozen):
    """Step 7: allowlisted Drive files ranked by relevance; the best one is linked."""

    ranked: tuple[DriveFile, ...] = ()

    @property
    def chosen(self) -> DriveFile | None:
        """The file the draft links, if any."""
        return self.ranked[0] if self.ranked else None


class Action(StrEnum):
    """The one call to action of a follow-up."""

    ANSWER_AND_BOOK = "answer_and_book"
    BOOK_MEETING = "book_meeting"
    SHARE_ASSET = "share_asset"
    ASK_FOR_TIME = "ask_for_time"


class NextStep(_Frozen):
    """Step 9: the call to action and why."""

    action: Action
    reason: str
    slots: tuple[MeetingSlot, ...] = ()
    asset: DriveFile | None = None


class DraftContent(_Frozen):
    """Step 10: the email as written, before Gmail sees it."""

    to: str
    subject: str
    text_body: str
    html_body: str
    reply_to_thread_id: str | None = None
    asset_links: tuple[str, ...] = ()
    # Who wrote it, with what, at what cost (None for drafts from before issue 17).
    provenance: DraftProvenance | None = None


class PastLead(_Frozen):
    """A past workflow of the same tenant, as step 6 compares it."""

    email_domain: str
    industry: str | None = None
    job_title: str | None = None
    status: str
    draft_sent: bool = False
    task_completed: bool = False
    created_at: datetime


class Tone(StrEnum):
    """How the tenant's emails sound."""

    FRIENDLY = "friendly"
    FORMAL = "formal"
    DIRECT = "direct"


class VoiceProfile(_Frozen):
    """The tenant's voice: how its emails greet, sound and sign off."""

    sender_name: str = "The team"
    sender_title: str | None = None
    company_name: str = "our team"
    tone: Tone = Tone.FRIENDLY
    greeting: str = Field(default="Hi {first_name},", description="{first_name} is filled in")
    sign_off: str = "Best,"
    signature: str | None = None


class TenantSettings(_Frozen):
    """A tenant's settings as the pipeline needs them for one run."""

    tenant_id: UUID
    portal_id: int
    name: str
    mode: WorkflowMode | None = None
    send_kill_switch: bool = False
    allowed_form_ids: tuple[str, ...] = ()
    drive_folder_ids: tuple[str, ...] = ()
    daily_send_cap: int = 50
    throttle_window_seconds: int = 86400
    timezone: str = "UTC"
    voice: VoiceProfile = Field(default_factory=VoiceProfile)
    writer: WriterSettings = Field(default_factory=WriterSettings)
    sender_email: str | None = None
    default_owner_id: str | None = None
    holiday_country: str | None = None
    extra_holidays: tuple[date, ...] = ()
    # Owner routing (None: the global ROUTE_BY_OWNER) and owners' hours by lower-case email.
    route_by_owner: bool | None = None
    owner_hours: dict[str, OwnerHours] = Field(default_factory=dict)


class WorkItem(_Frozen):
    """One claimed workflow: the submission as received and its tenant."""

    workflow_id: UUID
    tenant: TenantSettings
    payload: dict[str, Any]
    form_id: str
    hubspot_submission_id: str
    submitted_at: datetime | None = None
    received_at: datetime
    mode_override: WorkflowMode | None = None
    previous_submission_at: datetime | None = None
    source: SubmissionSource = SubmissionSource.WEBHOOK


class MailOutcome(_Frozen):
    """Step 11's result: where the draft (or sent message) is."""

    mode: WorkflowMode
    draft_id: str | None = None
    message_id: str | None = None
    thread_id: str | None = None
    sent: bool = False
    updated: bool = False
    mode_reason: str | None = None
    # The mailbox the mail is in (None: the tenant's sender, as before issue 20).
    mailbox: str | None = None
    # Why the lead was not mailed (a suppression's label, a stop reason): no Gmail draft.
    suppressed_reason: str | None = None
    # SEND outside the recipient's business hours: when the drafted mail goes out.
    scheduled_for: datetime | None = None

    @property
    def link(self) -> str | None:
        """Where the owner opens it in Gmail."""
        if self.sent and self.message_id:
            return f"https://mail.google.com/mail/#all/{self.message_id}"
        if self.message_id:
            return f"https://mail.google.com/mail/#drafts?compose={self.message_id}"
        return None


class PreviousMail(_Frozen):
    """What an earlier run of the same workflow left in Gmail (draft, message, thread)."""

    draft_id: str | None
    message_id: str | None
    thread_id: str | None
    sent: bool


class ScheduledMail(_Frozen):
    """A SEND lead's drafted email to send when its window opens."""

    tenant_id: UUID
    workflow_id: UUID
    mailbox: str
    to_email: str
    gmail_draft_id: str
    gmail_message_id: str | None = None
    gmail_thread_id: str | None = None
    due_at: datetime
    # The zone whose business hours chose due_at, and whose it is (recipient, owner, tenant).
    time_zone: str
    zone_of: str
