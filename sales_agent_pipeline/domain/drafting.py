"""The draft writer's contract: the brief it is given, the answer it returns, the tenant's
writer settings, and what the audit keeps of each draft (writer, model, tokens, latency,
why the template writer stood in).

The writer only chooses: it never writes a link, a time, an address or the signature. It
picks slot and asset ids from the lists in the brief, and our code assembles the email from
its paragraphs and those ids (`steps/draft_assembly.py`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The version of the instructions the model gets; in the audit beside each draft, so a
# change of prompt shows in the figures.
PROMPT_VERSION = "draft-2026-12-v2"

# The languages drafts are written in (the template writer has phrases for each; the slot
# parser reads day names and times of day in each).
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es")
DEFAULT_LANGUAGE = "en"

# Bounds of the brief (untrusted text is cut before any model sees it) and of the answer.
MAX_MESSAGE_CHARS = 2000
MAX_STYLE_GUIDE_CHARS = 2000
MAX_EXAMPLE_CHARS = 2000
MAX_EXAMPLES = 3
MAX_SUBJECT_CHARS = 120
MIN_PARAGRAPHS = 1
MAX_PARAGRAPHS = 4
MAX_PARAGRAPH_CHARS = 700
MAX_BODY_WORDS = 220


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class WriterKind(StrEnum):
    """Who writes the draft's text."""

    TEMPLATE = "template"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


class LanguagePolicy(StrEnum):
    """Which language a tenant's drafts are written in."""

    # The lead's own language when it is one we support, else the tenant's default.
    LEAD = "lead"
    # Always the tenant's default language.
    FIXED = "fixed"


class WriterSettings(_Frozen):
    """A tenant's draft-writer settings; None fields take the global settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    writer: WriterKind | None = Field(default=None, description="null: DRAFT_WRITER applies")
    model: str | None = Field(default=None, max_length=200, description="null: LLM_MODEL applies")
    temperature: float = Field(default=0.4, ge=0.0, le=1.0)
    language_policy: LanguagePolicy = LanguagePolicy.LEAD
    default_language: str = Field(default=DEFAULT_LANGUAGE, pattern="^(en|de|fr|es)$")
    style_guide: str = Field(default="", max_length=MAX_STYLE_GUIDE_CHARS)
    examples: tuple[str, ...] = Field(
        default=(),
        max_length=MAX_EXAMPLES,
        description="up to 3 emails the tenant likes, as style examples",
    )
    daily_token_budget: int | None = Field(
        default=None, ge=0, description="null: LLM_DAILY_TOKEN_BUDGET applies"
    )


class BriefAsset(_Frozen):
    """An asset the writer may choose: our id, its title and a one-line description."""

    id: str
    title: str
    description: str | None = None


class BriefSlot(_Frozen):
    """A meeting slot the writer may choose, by id; the label is for reading only."""

    id: str
    label: str


class BriefThread(_Frozen):
    """What the existing thread with the prospect says, summarised."""

    subject: str | None = None
    last_speaker: str | None = Field(default=None, description="prospect or us")
    message_count: int = 0
    # The last message, quoted text and signature stripped, cut to MAX_MESSAGE_CHARS.
    last_message: str | None = None


class DraftBrief(_Frozen):
    """Everything the writer may use, and nothing else. Lead text fields are untrusted data:
    the writer's instructions say so, and nothing in them is followed."""

    language: str = DEFAULT_LANGUAGE
    tone: str = "friendly"
    action: str = Field(description="the one call to action (plan_next_step)")
    action_reason: str = ""
    # The lead (untrusted).
    first_name: str | None = None
    company: str | None = None
    job_title: str | None = None
    industry: str | None = None
    message: str | None = None
    # What we know.
    thread: BriefThread | None = None
    company_facts: tuple[str, ...] = ()
    angle: str | None = None
    stated_preferences: str | None = Field(
        default=None, description="the times the lead asked for, as we understood them"
    )
    assets: tuple[BriefAsset, ...] = ()
    slots: tuple[BriefSlot, ...] = ()
    # The tenant.
    sender_company: str = "our team"
    sender_name: str | None = None
    style_guide: str = ""
    examples: tuple[str, ...] = ()


class DraftAnswer(_Frozen):
    """The writer's structured answer: text, and the ids it chose from the brief."""

    subject: str
    paragraphs: tuple[str, ...]
    slot_ids: tuple[str, ...] = ()
    asset_ids: tuple[str, ...] = ()


# The answer's JSON schema as both SDKs take it (OpenAI strict structured outputs: every
# property required, no additional properties; Anthropic: a tool's input_schema).
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "subject": {"type": "string", "description": "the email's subject line"},
        "paragraphs": {
            "type": "array",
            "items": {"type": "string"},
            "description": "the body's paragraphs, no greeting, no sign-off, no signature, "
            "no links, no times",
        },
        "slot_ids": {
            "type": "array",
            "items": {"type": "string"},
            "description": "ids of the meeting slots to offer, from the brief's slots",
        },
        "asset_ids": {
            "type": "array",
            "items": {"type": "string"},
            "description": "ids of the assets to share, from the brief's assets",
        },
    },
    "required": ["subject", "paragraphs", "slot_ids", "asset_ids"],
    "additionalProperties": False,
}
ANSWER_NAME = "follow_up_email"


class WriterUsage(_Frozen):
    """What one model call cost and took."""

    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    latency_ms: int = 0


class WrittenDraft(_Frozen):
    """A writer's answer, and its usage when a model wrote it."""

    answer: DraftAnswer
    usage: WriterUsage | None = None


class DraftProvenance(_Frozen):
    """Who wrote a draft and at what cost: in the audit trail and beside the draft."""

    writer: WriterKind
    requested: WriterKind
    model: str | None = None
    prompt_version: str | None = None
    language: str = DEFAULT_LANGUAGE
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    latency_ms: int | None = None
    # Why the template writer stood in for the requested model (an outage, a refusal, a
    # malformed or rejected answer, the daily token budget), or None.
    fallback_reason: str | None = None
