"""What each of the 13 steps hands to the next: typed, immutable, JSON-serialisable."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from sales_agent_pipeline.domain.models import Company, Contact, DriveFile, Owner
from sales_agent_pipeline.domain.schedule import MeetingSlot


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ContactResult(_Frozen):
    """Step 2: the HubSpot contact and, when assigned, its owner."""

    contact: Contact
    owner: Owner | None = None


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
