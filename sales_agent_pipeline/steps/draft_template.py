"""The template writer: the offline default and every model writer's fallback. It writes
from fixed phrases in the lead's language and never quotes what the lead typed beyond a
short topic (a few words of a one-line interest, never a sentence of theirs)."""

from __future__ import annotations

import re

from sales_agent_pipeline.domain.drafting import (
    DraftAnswer,
    DraftBrief,
    WriterKind,
    WriterSettings,
    WrittenDraft,
)
from sales_agent_pipeline.domain.workflow import Action, Tone
from sales_agent_pipeline.steps.draft_phrases import OPENERS, SENTENCES, frame

# A form's interest field ("Warehouse automation pricing") reads as a topic; a longer
# message is a text of theirs, which the template does not repeat.
MAX_TOPIC_WORDS = 6
_TOPIC = re.compile(r"^[\w][\w &'/+-]*$", re.UNICODE)


def topic(message: str | None) -> str | None:
    """The lead's message as a short topic phrase, or None when it is more than that."""
    if not message:
        return None
    text = " ".join(message.split()).rstrip(".!")
    words = text.split()
    if not words or len(words) > MAX_TOPIC_WORDS or not _TOPIC.match(text):
        return None
    # "Warehouse automation pricing" -> "warehouse automation pricing"; keep "AI", "ERP".
    first = words[0]
    if not first.isupper():
        words[0] = first[0].lower() + first[1:]
    return " ".join(words)


def _safe(value: str | None, limit: int = 60) -> str | None:
    """A short field (company, industry) fit to appear inside a sentence, or None."""
    if not value:
        return None
    text = " ".join(value.split())
    if len(text) > limit or not re.fullmatch(r"[\w][\w .,&'()/+-]*", text, re.UNICODE):
        return None
    return text


def _subject(brief: DraftBrief, language: str) -> str:
    phrases = frame(language)
    company = _safe(brief.company)
    if company:
        return phrases["subject_new"].format(company=company, ours=brief.sender_company)
    return phrases["subject_anonymous"].format(ours=brief.sender_company)


def _paragraphs(brief: DraftBrief, language: str) -> tuple[str, ...]:
    sentences = SENTENCES.get(language, SENTENCES["en"])
    openers = OPENERS.get(language, OPENERS["en"])
    tone = Tone(brief.tone) if brief.tone in Tone.__members__.values() else Tone.FRIENDLY
    first: list[str] = []
    if brief.action == Action.ANSWER_AND_BOOK.value:
        first.append(sentences["reply"])
    else:
        first.append(openers[tone].format(ours=brief.sender_company))
    angle = brief.angle or ""
    company, industry = _safe(brief.company), _safe(brief.industry)
    if angle.startswith("returning account") and company:
        first.append(sentences["returning"].format(company=company))
    second: list[str] = []
    about = topic(brief.message)
    if about:
        second.append(sentences["topic"].format(topic=about))
    elif brief.message:
        second.append(sentences["details"])
    if industry:
        key = "proven" if angle.startswith("proven in") else "industry"
        second.append(sentences[key].format(industry=industry))
    return tuple(" ".join(part) for part in (first, second) if part)


class TemplateWriter:
    """Writes every draft the same way for the same brief, offline."""

    kind = WriterKind.TEMPLATE

    def write(self, brief: DraftBrief, settings: WriterSettings, model: str = "") -> WrittenDraft:
        """Fixed phrases in the brief's language; every slot, the first asset."""
        language = brief.language
        answer = DraftAnswer(
            subject=_subject(brief, language),
            paragraphs=_paragraphs(brief, language),
            slot_ids=tuple(slot.id for slot in brief.slots),
            asset_ids=tuple(asset.id for asset in brief.assets[:1]),
        )
        return WrittenDraft(answer=answer)
