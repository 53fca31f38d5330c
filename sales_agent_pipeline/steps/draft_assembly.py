"""The email assembled by our code from a writer's answer: the greeting, its paragraphs,
the assets and slots it chose (links and times from our own lists only), the sign-off and
the signature (the contact's owner, or the tenant's voice). Text and HTML; the HTML
escapes everything that came from a writer or a lead."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from sales_agent_pipeline.domain.drafting import (
    MAX_SUBJECT_CHARS,
    DraftAnswer,
    DraftBrief,
    WriterSettings,
)
from sales_agent_pipeline.domain.schedule import MeetingSlot, TimePreferences
from sales_agent_pipeline.domain.workflow import Action, DraftContent, VoiceProfile
from sales_agent_pipeline.steps.draft_brief import (
    DraftInputs,
    asset_candidates,
    asset_ids,
    sender_name,
    slot_ids,
)
from sales_agent_pipeline.steps.draft_phrases import frame
from sales_agent_pipeline.steps.propose_meeting_slots import honours
from sales_agent_pipeline.steps.slot_labels import slot_label

_ENV = Environment(
    loader=PackageLoader("sales_agent_pipeline.steps", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_DEFAULT_VOICE = VoiceProfile()
# A first name we greet by: letters (any script), apostrophes, hyphens, one or two words.
_NAME = re.compile(r"^[^\W\d_][^\W\d_'\u2019.-]*(?:[ '\u2019.-][^\W\d_]+){0,1}$", re.UNICODE)
# A paragraph that is only a greeting or a sign-off: the frame adds ours.
_GREETING = re.compile(
    r"^(?:hi|hello|hey|dear|hallo|guten tag|liebe[rs]?|sehr geehrte[rs]?|bonjour|"
    r"chère|cher|hola|estimad[oa])\b(?:\s+[^\s.!?]+){0,3}\s*[,:!]?$",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"^(?:best|regards|kind regards|best regards|cheers|thanks|thank you|sincerely|"
    r"viele grüße|beste grüße|mit freundlichen grüßen|cordialement|bien cordialement|"
    r"un saludo|saludos|atentamente)\s*[,!]?(?:\s+[^\W\d_]+){0,2}$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Asset:
    title: str
    link: str


def _honoured(slot: MeetingSlot, wishes: TimePreferences) -> bool:
    zone = ZoneInfo(slot.prospect_timezone or slot.timezone)
    return honours(slot.start, slot.end, wishes, zone)


def without_dashes(text: str) -> str:
    """No em- or en-dashes: a spaced dash becomes a comma, a bare one a hyphen."""
    text = re.sub(r"\s*[\u2014\u2013]\s+", ", ", text)
    return re.sub(r"[\u2014\u2013]", "-", text)


def greeting_name(first_name: str | None) -> str | None:
    """The lead's first name when it reads as one (a field saying anything else is not
    repeated back to them)."""
    if not first_name:
        return None
    name = " ".join(first_name.split())
    if len(name) > 40 or not _NAME.match(name):
        return None
    return name[0].upper() + name[1:]


def _in_tenant_voice(language: str, settings: WriterSettings) -> bool:
    # The voice profile's own greeting and sign-off are written in the tenant's language.
    return language == settings.default_language


def _greeting(brief: DraftBrief, voice: VoiceProfile, settings: WriterSettings) -> str:
    phrases = frame(brief.language)
    name = greeting_name(brief.first_name)
    own = _in_tenant_voice(brief.language, settings) and voice.greeting != _DEFAULT_VOICE.greeting
    if name is None:
        return phrases["greeting_anonymous"]
    if own:
        try:
            return voice.greeting.format(first_name=name)
        except (KeyError, IndexError, ValueError):
            pass  # a voice profile with other braces in it: ours instead
    return phrases["greeting"].format(name=name)


def _paragraphs(answer: DraftAnswer) -> list[str]:
    kept = []
    for paragraph in answer.paragraphs:
        text = " ".join(paragraph.split())
        if text and not _GREETING.match(text) and not _SIGN_OFF.match(text):
            kept.append(text)
    return kept


def _subject(answer: DraftAnswer, inputs: DraftInputs) -> str:
    context = inputs.context
    if context.thread_id and context.subject:
        subject = " ".join(context.subject.split())
        return subject if subject.lower().startswith("re:") else f"Re: {subject}"
    subject = " ".join(answer.subject.split())
    if len(subject) > MAX_SUBJECT_CHARS:
        subject = subject[:MAX_SUBJECT_CHARS].rsplit(" ", 1)[0]
    return subject


def assemble(
    inputs: DraftInputs, brief: DraftBrief, answer: DraftAnswer, settings: WriterSettings
) -> DraftContent:
    """The email: our frame around the answer's paragraphs, its chosen slots and assets."""
    language = brief.language
    phrases = frame(language)
    voice = inputs.voice
    files = asset_ids(asset_candidates(inputs))
    chosen_assets = [files[i] for i in dict.fromkeys(answer.asset_ids) if i in files]
    slots = slot_ids(inputs.plan.slots)
    chosen_slots = [slots[i] for i in dict.fromkeys(answer.slot_ids) if i in slots]
    booking = inputs.plan.action in (Action.BOOK_MEETING, Action.ANSWER_AND_BOOK)
    if booking and not chosen_slots:
        chosen_slots = list(slots.values())  # the plan is to book: offer every slot
    wishes = inputs.preferences
    matched = False
    if wishes and wishes.stated and not wishes.fallback_reason and chosen_slots:
        # A writer may choose a slot the lead did not ask for: only the ones they did go
        # out (all of them when none does, without claiming a match).
        kept = [slot for slot in chosen_slots if _honoured(slot, wishes)]
        matched = bool(kept)
        chosen_slots = kept or chosen_slots
    own_voice = _in_tenant_voice(language, settings)
    owner_signs = inputs.owner is not None and sender_name(inputs) != voice.sender_name
    values = {
        "greeting": _greeting(brief, voice, settings),
        "paragraphs": _paragraphs(answer),
        "assets": [
            _Asset(title=" ".join(file.name.split()), link=file.web_link or "")
            for file in chosen_assets
        ],
        "asset_intro": phrases["asset_intro"],
        "slots": [slot_label(slot, language) for slot in chosen_slots],
        "slots_intro": phrases["slots_intro_matched" if matched else "slots_intro"],
        "slots_outro": phrases["slots_outro"],
        "ask_for_time": None if chosen_slots else phrases["ask_for_time"],
        "sign_off": voice.sign_off if own_voice and voice.sign_off else phrases["sign_off"],
        "sender_name": sender_name(inputs),
        "sender_title": None if owner_signs else voice.sender_title,
        "company_line": voice.company_name if owner_signs else None,
        "signature": voice.signature,
    }
    text = _ENV.get_template("draft.txt.j2").render(values)
    html = _ENV.get_template("draft.html.j2").render(values)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    html = re.sub(r"\n{2,}", "\n", html).strip() + "\n"
    return DraftContent(
        to=inputs.lead.email,
        subject=without_dashes(_subject(answer, inputs)),
        text_body=without_dashes(text),
        html_body=without_dashes(html),
        reply_to_thread_id=inputs.context.thread_id,
        asset_links=tuple(file.web_link for file in chosen_assets if file.web_link),
    )
