"""Step 10: the follow-up email in the tenant's voice, rendered from Jinja2 templates."""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.workflow import (
    DraftContent,
    NextStep,
    ThreadContext,
    Tone,
    VoiceProfile,
)

# Phrases per tone; the templates only arrange them.
PHRASES: dict[Tone, dict[str, str]] = {
    Tone.FRIENDLY: {
        "opener": "Great to hear from you, and thanks for reaching out to {company}.",
        "asset_intro": "Here is something I think you will find useful",
        "slots_intro": "Would one of these times work for a quick 30-minute call?",
        "slots_outro": "If none suits, just reply with a time that does.",
        "ask_for_time": "When would suit you for a short call this week or next?",
    },
    Tone.FORMAL: {
        "opener": "Thank you for contacting {company}.",
        "asset_intro": "Please find a relevant document below",
        "slots_intro": "I would be glad to arrange a 30-minute call at one of the following times:",
        "slots_outro": "Should none be convenient, please propose an alternative.",
        "ask_for_time": "Please let me know a convenient time for a short call.",
    },
    Tone.DIRECT: {
        "opener": "Thanks for getting in touch with {company}.",
        "asset_intro": "Relevant reading",
        "slots_intro": "Pick a 30-minute slot:",
        "slots_outro": "Or reply with another time.",
        "ask_for_time": "What time works for a 30-minute call?",
    },
}

_ENV = Environment(
    loader=PackageLoader("sales_agent_pipeline.steps", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def without_dashes(text: str) -> str:
    """No em- or en-dashes: a spaced dash becomes a comma, a bare one a hyphen."""
    text = re.sub(r"\s*[\u2014\u2013]\s+", ", ", text)
    return re.sub(r"[\u2014\u2013]", "-", text)


def quoted(text: str | None) -> str | None:
    """The prospect's last message as one line to quote, without its salutation."""
    if not text:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(",") and len(lines[0].split()) <= 3:
        lines = lines[1:]  # "Alex," or "Hi Alex,"
    return " ".join(" ".join(lines).split()) or None


def _subject(lead: Lead, context: ThreadContext, voice: VoiceProfile) -> str:
    if context.thread_id and context.subject:
        subject = context.subject
        return subject if subject.lower().startswith("re:") else f"Re: {subject}"
    if lead.company:
        return f"{lead.company} and {voice.company_name}: next steps"
    return f"Following up on your request to {voice.company_name}"


def write_draft(
    lead: Lead, context: ThreadContext, plan: NextStep, voice: VoiceProfile
) -> DraftContent:
    """Subject, plain text and HTML; deterministic for the same input."""
    phrases = {
        key: value.format(company=voice.company_name) for key, value in PHRASES[voice.tone].items()
    }
    values: dict[str, Any] = {
        "greeting": voice.greeting.format(first_name=lead.first_name or "there"),
        "action": plan.action.value,
        "last_message": quoted(context.last_message_text),
        "interest": lead.interest,
        "asset": plan.asset,
        "slots": list(plan.slots),
        "sign_off": voice.sign_off,
        "sender_name": voice.sender_name,
        "sender_title": voice.sender_title,
        "signature": voice.signature,
        **phrases,
    }
    text = _ENV.get_template("draft.txt.j2").render(values)
    html = _ENV.get_template("draft.html.j2").render(values)
    # Optional paragraphs leave blank runs behind; one blank line separates paragraphs.
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    html = re.sub(r"\n{2,}", "\n", html).strip() + "\n"
    return DraftContent(
        to=lead.email,
        subject=without_dashes(_subject(lead, context, voice)),
        text_body=without_dashes(text),
        html_body=without_dashes(html),
        reply_to_thread_id=context.thread_id,
        asset_links=tuple(asset.web_link for asset in [plan.asset] if asset and asset.web_link),
    )
