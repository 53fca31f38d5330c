"""Step 10's inputs and the brief a writer gets: what we know, cut to size, with our own
short ids for the slots and assets it may choose (so it cannot name a Drive id or a time
of its own)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sales_agent_pipeline.domain.drafting import (
    MAX_EXAMPLE_CHARS,
    MAX_MESSAGE_CHARS,
    BriefAsset,
    BriefSlot,
    BriefThread,
    DraftBrief,
    LanguagePolicy,
    WriterSettings,
)
from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import Company, DriveFile, Owner
from sales_agent_pipeline.domain.schedule import MeetingSlot, TimePreferences
from sales_agent_pipeline.domain.workflow import (
    AssetChoice,
    NextStep,
    SimilarPatterns,
    Speaker,
    ThreadContext,
    VoiceProfile,
)
from sales_agent_pipeline.steps.language import lead_language
from sales_agent_pipeline.steps.slot_labels import slot_label

# Assets offered to the writer: the chosen one first, then the next best.
MAX_ASSETS = 3
_SHORT_FIELD_CHARS = 200
_DESCRIPTION_CHARS = 200
# Control characters (but newlines and tabs) never reach a writer or a draft.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# HubSpot company properties worth a fact line, and how they read.
_COMPANY_FACTS = (
    ("industry", "industry"),
    ("numberofemployees", "employees"),
    ("city", "city"),
    ("country", "country"),
    ("description", "about"),
)


@dataclass(frozen=True)
class DraftInputs:
    """What step 10 writes from: the earlier steps' outputs and the tenant's voice."""

    lead: Lead
    context: ThreadContext
    plan: NextStep
    voice: VoiceProfile
    assets: AssetChoice | None = None
    patterns: SimilarPatterns | None = None
    company: Company | None = None
    owner: Owner | None = None
    preferences: TimePreferences | None = None
    # A language hint from HubSpot (the contact's `hs_language`), when known.
    language_hint: str | None = None


def clean(text: str | None, limit: int) -> str | None:
    """Untrusted text made safe to carry: normalised, no control or direction characters,
    whitespace collapsed per line, cut at a word boundary to `limit` characters."""
    if not text:
        return None
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    text = "\n".join(line for line in lines if line).strip()
    if len(text) > limit:
        cut = text[:limit]
        text = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip() + " ..."
    return text or None


def _one_line(text: str | None, limit: int = _SHORT_FIELD_CHARS) -> str | None:
    cleaned = clean(text, limit)
    return " ".join(cleaned.split()) if cleaned else None


def draft_language(inputs: DraftInputs, settings: WriterSettings) -> str:
    """The language of the draft, by the tenant's policy."""
    if settings.language_policy is LanguagePolicy.FIXED:
        return settings.default_language
    prospect_wrote = inputs.context.last_speaker is Speaker.PROSPECT
    texts = [inputs.lead.interest, inputs.context.last_message_text if prospect_wrote else None]
    fields = inputs.lead.fields
    hints = [fields.get("language"), fields.get("hs_language"), inputs.language_hint]
    return lead_language(texts, hints, settings.default_language)


def asset_candidates(inputs: DraftInputs) -> list[DriveFile]:
    """The assets a writer may choose from, each with a link: the plan's first."""
    ranked = list(inputs.assets.ranked) if inputs.assets else []
    chosen = [inputs.plan.asset] if inputs.plan.asset else []
    files: list[DriveFile] = []
    for file in [*chosen, *ranked]:
        if file.web_link and all(file.id != kept.id for kept in files):
            files.append(file)
    return files[:MAX_ASSETS]


def asset_ids(files: list[DriveFile]) -> dict[str, DriveFile]:
    """Our short ids for the assets (A1, A2, ...), in order."""
    return {f"A{n}": file for n, file in enumerate(files, start=1)}


def slot_ids(slots: tuple[MeetingSlot, ...]) -> dict[str, MeetingSlot]:
    """Our short ids for the slots (S1, S2, ...), in order."""
    return {f"S{n}": slot for n, slot in enumerate(slots, start=1)}


def _company_facts(inputs: DraftInputs) -> tuple[str, ...]:
    company = inputs.company
    facts: list[str] = []
    name = (company.name if company else None) or inputs.lead.company
    if name:
        facts.append(f"name: {_one_line(name)}")
    if company and company.domain:
        facts.append(f"domain: {_one_line(company.domain)}")
    for key, label in _COMPANY_FACTS:
        value = _one_line(company.properties.get(key)) if company else None
        if value:
            facts.append(f"{label}: {value}")
    return tuple(facts)


def sender_name(inputs: DraftInputs) -> str:
    """Who signs: the contact's owner when HubSpot names one, else the tenant's voice."""
    owner = inputs.owner
    if owner is not None:
        full = " ".join(p for p in (owner.first_name, owner.last_name) if p)
        if full:
            return full
    return inputs.voice.sender_name


def build_brief(inputs: DraftInputs, settings: WriterSettings) -> DraftBrief:
    """The brief: the lead's words as data, what we know, and the ids it may choose."""
    lead, context = inputs.lead, inputs.context
    language = draft_language(inputs, settings)
    thread = None
    if context.thread_id:
        thread = BriefThread(
            subject=_one_line(context.subject),
            last_speaker=context.last_speaker.value if context.last_speaker else None,
            message_count=context.message_count,
            last_message=clean(context.last_message_text, MAX_MESSAGE_CHARS),
        )
    assets = asset_ids(asset_candidates(inputs))
    slots = slot_ids(inputs.plan.slots)
    preferences = inputs.preferences
    return DraftBrief(
        language=language,
        tone=inputs.voice.tone.value,
        action=inputs.plan.action.value,
        action_reason=inputs.plan.reason,
        first_name=_one_line(lead.first_name, 80),
        company=_one_line(lead.company),
        job_title=_one_line(lead.job_title),
        industry=_one_line(lead.industry),
        message=clean(lead.interest, MAX_MESSAGE_CHARS),
        thread=thread,
        company_facts=_company_facts(inputs),
        angle=inputs.patterns.angle if inputs.patterns else None,
        stated_preferences=preferences.summary if preferences and preferences.stated else None,
        assets=tuple(
            BriefAsset(
                id=key,
                title=_one_line(file.name) or key,
                description=_one_line(file.description, _DESCRIPTION_CHARS),
            )
            for key, file in assets.items()
        ),
        slots=tuple(
            BriefSlot(id=key, label=slot_label(slot, language)) for key, slot in slots.items()
        ),
        sender_company=inputs.voice.company_name,
        sender_name=sender_name(inputs),
        style_guide=settings.style_guide,
        examples=tuple(clean(example, MAX_EXAMPLE_CHARS) or "" for example in settings.examples),
    )
